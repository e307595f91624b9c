package nstest

import (
	"testing"

	"github.com/nsrun/nsrun/internal/testenv"
)

// StrictEnv names the environment variable that turns a skip for lack of
// privilege into a failure.
const StrictEnv = testenv.StrictEnv

// RequirePrivilege skips the test, with the reason, when this process
// cannot create network namespaces, which it finds out by trying once per
// process; under NSTEST_STRICT=1 it fails the test instead. New and
// Topology call it; call it first in tests that need the privilege
// otherwise (to run a program as root inside a namespace, say).
func RequirePrivilege(tb testing.TB) {
	tb.Helper()
	testenv.RequirePrivilege(tb)
}
