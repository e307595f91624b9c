package runner_test

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/runner"
)

// ExampleCmd_Run runs a shell script in a fresh namespace, supervised as
// nsrun does it: signals forwarded, everything it started killed when it
// ends. It needs root, so it has no Output to check.
func ExampleCmd_Run() {
	ns, err := nsrun.New(nsrun.WithCreator("example"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ns.Delete()

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, runner.Forwarded...)
	defer signal.Stop(sigs)

	cmd := runner.Command(ns, "sh", "-c", "ip -o link; sleep 1000 & exit 3")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.User, _ = runner.SudoUser() // the sudo caller, if any
	st, err := cmd.Run(context.Background(), sigs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nsrun:", err)
		os.Exit(runner.ErrorCode(err))
	}
	fmt.Println(st, st.ExitCode()) // exit status 3 3; the sleep is gone
}
