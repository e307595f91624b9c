// Command gofloor is the least a Go program does to run a command in a new
// network namespace: one Go start, unshare(CLONE_NEWNET) on its locked main
// thread, lo up with one RTM_NEWLINK, and exec of the command, which so
// runs in the namespace. No name, no mount or PID namespace, no cleanup
// (the namespace dies with the command). nscompare times it beside
// `nsrun -- true` as the floor of any Go tool: a Go program's start alone
// costs more than some of the C tools' whole run on a slow machine.
//
//	gofloor COMMAND [ARG...]
package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"

	"github.com/nsrun/nsrun/bench/internal/rawnl"
	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gofloor COMMAND [ARG...]")
		os.Exit(2)
	}
	// exec replaces the whole process from this thread, which the
	// namespace then belongs to: it must be the thread that unshared.
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		fail("unshare network namespace", err)
	}
	if err := rawnl.LoopbackUp(); err != nil {
		fail("bring lo up", err)
	}
	path, err := exec.LookPath(os.Args[1])
	if err != nil {
		fail("find "+os.Args[1], err)
	}
	fail("exec "+path, unix.Exec(path, os.Args[1:], os.Environ()))
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "gofloor: %s: %v\n", what, err)
	os.Exit(125)
}
