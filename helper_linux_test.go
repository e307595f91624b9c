package nsrun_test

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/owner"
)

// helperEnv makes the test binary act as a helper process instead of
// running tests: it lets tests observe a real crash of a namespace owner.
const helperEnv = "NSRUN_TEST_HELPER"

// helperMain runs the helper named by helperEnv, if any, and reports
// whether it did (the process then exits without running tests).
func helperMain() bool {
	switch os.Getenv(helperEnv) {
	case "":
		return false
	case "new-and-delete":
		n, err := nsrun.New(nsrun.WithPrefix("nsrun-helper-"))
		if err == nil {
			err = n.Delete()
		}
		// A process that is done with its namespaces removes its owner
		// file, as nsrun and nstest.Main do.
		err = errors.Join(err, owner.Release())
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	case "create-and-die":
		// Make a namespace with a process inside, then die by SIGKILL, as a
		// crashed test run would: no cleanup runs.
		n, err := nsrun.New(nsrun.WithPrefix("nsrun-crash-"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		cmd := n.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		// Die only once the child is inside, so it outlives us there.
		for pids, _ := n.Pids(); len(pids) == 0; pids, _ = n.Pids() {
			time.Sleep(time.Millisecond)
		}
		fmt.Println(n.Name())
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
	}
	os.Exit(2)
	return true
}
