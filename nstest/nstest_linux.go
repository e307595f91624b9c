package nstest

import (
	"strings"
	"sync"
	"testing"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/corehook"
	"github.com/nsrun/nsrun/internal/owner"
)

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
// When the test has failed by then, the cleanup first logs the state of the
// namespace (links and their counters, routes, neighbours, sockets, qdiscs,
// nsids, forwarding sysctls), and with NSTEST_PAUSE_ON_FAILURE=1 and a
// terminal, waits for Enter before deleting it.
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
		reportFailure(tb, "namespace "+n.Name(), map[string]*nsrun.Namespace{n.Name(): n}, "")
		if err := n.Delete(); err != nil {
			tb.Errorf("nstest: %v", err)
		}
	})
	watch(tb, map[string]*nsrun.Namespace{n.Name(): n}) // packet capture (see Capture)
	return n
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
