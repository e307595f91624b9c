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
	"strings"
	"sync"
	"testing"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/corehook"
	"github.com/nsrun/nsrun/internal/owner"
	"github.com/nsrun/nsrun/internal/testenv"
)

// StrictEnv names the environment variable that turns a skip for lack of
// privilege into a failure.
const StrictEnv = testenv.StrictEnv

// prefix derives a namespace name prefix from the test name, so that
// `ip netns list` shows which test a namespace belongs to: "nst-", then the
// name with each run of other characters than [A-Za-z0-9_.-] made one "-",
// cut to 40 bytes, then "-".
func prefix(tb testing.TB) string {
	var b strings.Builder
	dash := false
	for _, r := range tb.Name() {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '.' || r == '-' {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	name := b.String()
	if len(name) > 40 {
		name = name[:40]
	}
	return "nst-" + name + "-"
}

// sweep removes, once per process, what earlier runs left behind when they
// could not clean up (killed, or timed out: the testing package exits
// without running cleanups then). Only namespaces whose owner is dead go.
var sweep = sync.OnceValue(func() error { _, err := owner.Sweep(false, nsrun.DeleteNamed); return err })

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
	RequirePrivilege(tb)
	n, err := nsrun.New(append([]nsrun.Option{nsrun.WithPrefix(prefix(tb))}, opts...)...)
	if err != nil {
		tb.Fatalf("nstest: %v", err)
	}
	tb.Cleanup(func() {
		if err := n.Delete(); err != nil {
			tb.Errorf("nstest: %v", err)
		}
	})
	return n
}

// RequirePrivilege skips the test, with the reason, when this process
// cannot create network namespaces, which it finds out by trying once per
// process; under NSTEST_STRICT=1 it fails the test instead. New and
// Topology call it; call it first in tests that need the privilege
// otherwise (to run a program as root inside a namespace, say).
func RequirePrivilege(tb testing.TB) {
	tb.Helper()
	testenv.RequirePrivilege(tb)
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
		exit, err := corehook.Pin(ns)
		if err != nil {
			t.Fatalf("nstest: %v", err)
		}
		defer func() {
			if err := exit(); err != nil {
				t.Errorf("nstest: leave %s: %v", ns.Name(), err)
			}
		}()
		f(t)
	})
}
