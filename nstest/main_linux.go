package nstest

import (
	"os"
	"syscall"

	"github.com/nsrun/nsrun/internal/owner"
	"github.com/nsrun/nsrun/internal/reexec"
	"github.com/nsrun/nsrun/internal/testenv"
)

// Main runs the tests of m and exits; call it as the whole of TestMain to
// let the package's tests make namespaces without root:
//
//	func TestMain(m *testing.M) { nstest.Main(m) }
//
// With the privilege to make namespaces (root, or CAP_SYS_ADMIN and
// CAP_NET_ADMIN) it is os.Exit(m.Run()). Without it, when unprivileged user
// namespaces work, it runs the test binary again, rootless: with the same
// arguments, environment and stdio, as root of a new user namespace (your
// own uid outside) with its own mount and network namespaces, where every
// helper of this package works unchanged; it exits with that run's exit
// code. Namespaces made there are named in a directory private to the run
// (`ip netns list` on the host does not show them), and they all end with
// it, even if it is killed. When user namespaces are blocked, the tests run
// as they are, and those that need the privilege skip saying what blocks
// them and the command that lifts it (or fail, under NSTEST_STRICT=1).
//
// m is usually the *testing.M itself. It may be anything whose Run runs
// the tests and returns the exit code, such as a wrapper that checks for
// leaked goroutines or namespaces after them: Main calls Run in the process
// that runs the tests (the rootless one, when it runs them rootless), so
// what the wrapper does around the tests happens there. Code in TestMain
// before Main runs in both processes, and code after it in neither.
//
// What cannot work rootless: moving the host's own devices into a
// namespace, reaching the host's network, and anything that needs a
// kernel module that is not loaded (netem, say, gives an error matching
// nsrun.ErrNotSupported).
func Main(m interface{ Run() int }) {
	if reexec.RootlessRoot() || reexec.Privileged() {
		os.Exit(run(m))
	}
	err := reexec.Detect()
	if err == nil {
		var code int
		code, err = reexec.RunRootless(os.Args, os.Stdin, os.Stdout, os.Stderr, false)
		if err == nil {
			// Not os.Exit: its hooks (the race detector's one-second wait
			// at exit, coverage) belong to the run that ran the tests.
			syscall.Exit(code)
		}
	}
	testenv.SetRootless(err)
	os.Exit(run(m))
}

// run runs the tests, then removes this process's owner file (which the
// namespace records link to) if no namespace of ours is left, so that a
// test binary leaves nothing in the records directory.
func run(m interface{ Run() int }) int {
	code := m.Run()
	_ = owner.Release()
	return code
}
