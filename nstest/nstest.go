// Package nstest gives each Go test its own throwaway named network
// namespace. It wraps the error-returning core (package nsrun) for
// testing.TB: failures fail the test, and cleanup is registered with
// tb.Cleanup, so nothing is left behind whether the test passes, fails,
// panics or calls t.FailNow.
//
//	func TestEcho(t *testing.T) {
//		t.Parallel()
//		srv := nstest.New(t)
//		ln, err := srv.Listen("tcp", "127.0.0.1:0")
//		...
//	}
//
// # Privileges
//
// Namespaces need CAP_SYS_ADMIN (root). Without it the helpers skip the
// test with the reason, unless the environment variable NSTEST_STRICT is set
// to 1, which makes them fail instead: CI sets it so that a lost privilege
// cannot pass as a green run of skipped tests.
package nstest

import (
	"errors"
	"os"
	"regexp"
	"sync"
	"testing"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/nsthread"
)

// StrictEnv names the environment variable that turns a skip for lack of
// privilege into a failure.
const StrictEnv = "NSTEST_STRICT"

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// prefix derives a namespace name prefix from the test name, so that
// `ip netns list` shows which test a namespace belongs to.
func prefix(tb testing.TB) string {
	name := unsafeChars.ReplaceAllString(tb.Name(), "-")
	if len(name) > 40 {
		name = name[:40]
	}
	return "nst-" + name + "-"
}

// sweep removes, once per process, what earlier runs left behind when they
// could not clean up (killed, or timed out: the testing package exits
// without running cleanups then). Only namespaces whose owner is dead go.
var sweep = sync.OnceValue(func() error { _, err := nsrun.Sweep(false); return err })

// New creates a named network namespace for the test, with lo up, and
// deletes it in tb.Cleanup (killing the processes left inside first). The
// name starts with "nst-" and the test's name unless an option says
// otherwise. Options are those of nsrun.New. The first call in a process
// also removes the leftovers of earlier runs whose owner died.
//
// New is safe in parallel tests. The caller's goroutine never changes
// namespace. Without the privilege to create namespaces, New skips the test
// (or fails it under NSTEST_STRICT=1).
func New(tb testing.TB, opts ...nsrun.Option) *nsrun.Namespace {
	tb.Helper()
	if err := sweep(); err != nil {
		tb.Logf("nstest: removing leftovers of earlier runs: %v", err)
	}
	all := append([]nsrun.Option{nsrun.WithPrefix(prefix(tb)), nsrun.WithCreator("nstest")}, opts...)
	n, err := nsrun.New(all...)
	if err != nil {
		SkipOrFail(tb, err)
	}
	tb.Cleanup(func() {
		if err := n.Delete(); err != nil {
			tb.Errorf("nstest: %v", err)
		}
	})
	return n
}

// SkipOrFail ends the test because err stopped a namespace from being made:
// a skip when err is a lack of privilege (unless NSTEST_STRICT=1), a
// failure otherwise.
func SkipOrFail(tb testing.TB, err error) {
	tb.Helper()
	if errors.Is(err, os.ErrPermission) && os.Getenv(StrictEnv) != "1" {
		tb.Skipf("nstest: needs the privilege to create network namespaces (run as root, or `go test -exec sudo`; %s=1 makes this a failure): %v", StrictEnv, err)
	}
	tb.Fatalf("nstest: %v", err)
}

// Run runs f as a subtest called name whose goroutine is pinned inside ns
// for its whole life, t.Parallel included: code in f, and processes it
// starts with os/exec, run in ns. Goroutines f starts do not inherit ns.
// When f ends, however it ends (t.FailNow and panics included), the thread
// is switched back and verified; if that fails it is destroyed rather than
// reused. Run returns what t.Run returns.
func Run(t *testing.T, ns *nsrun.Namespace, name string, f func(t *testing.T)) bool {
	t.Helper()
	return t.Run(name, func(t *testing.T) {
		fd := ns.Fd()
		if fd < 0 {
			t.Fatalf("nstest: namespace %s is closed", ns.Name())
		}
		exit, err := nsthread.Enter(fd)
		if err != nil {
			t.Fatalf("nstest: enter %s: %v", ns.Name(), err)
		}
		defer func() {
			if err := exit(); err != nil {
				t.Errorf("nstest: leave %s: %v", ns.Name(), err)
			}
		}()
		f(t)
	})
}
