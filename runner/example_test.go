//go:build unix

// The example sets a syscall.Credential, which only Unix systems have.

package runner_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/runner"
)

// ExampleCmd_Run runs a shell script in a fresh namespace, supervised as
// nsrun does it: signals forwarded, everything it started killed when it
// ends. It needs root, so it has no Output to check.
func ExampleCmd_Run() {
	ns, err := nsrun.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ns.Delete()

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(sigs)

	cmd := runner.Command(ns, "sh", "-c", "ip -o link; sleep 1000 & exit 3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Credential = &syscall.Credential{Uid: 65534, Gid: 65534} // nobody
	st, err := cmd.Run(context.Background(), sigs)
	var rerr *runner.Error
	if errors.As(err, &rerr) {
		fmt.Fprintln(os.Stderr, "nsrun:", err)
		os.Exit(rerr.Code) // 125, 126 or 127
	}
	fmt.Println(st, st.ExitCode()) // exit status 3 3; the sleep is gone
}
