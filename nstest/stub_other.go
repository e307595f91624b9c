//go:build !linux

// The API of the Linux files, for tests that must build on every OS: each
// helper skips the test (fails it under NSTEST_STRICT=1) because network
// namespaces need Linux (see the Linux files for the docs).

package nstest

import (
	"os"
	"testing"

	"github.com/nsrun/nsrun"
)

// New skips the test off Linux.
func New(tb testing.TB, opts ...nsrun.Option) *nsrun.Namespace {
	tb.Helper()
	RequirePrivilege(tb)
	return nil
}

// Run skips the subtest off Linux.
func Run(t *testing.T, ns *nsrun.Namespace, name string, f func(t *testing.T)) bool {
	t.Helper()
	return t.Run(name, func(t *testing.T) { RequirePrivilege(t) })
}

// Main runs the tests of m and exits: off Linux there is no rootless mode,
// and the helpers skip.
func Main(m interface{ Run() int }) { os.Exit(m.Run()) }
