// Package testenv is the one privilege rule for this module's tests, and
// nstest's: a test that needs to create network namespaces calls
// RequirePrivilege first. Without the privilege (or off Linux) the test is
// skipped with the reason, unless NSTEST_STRICT=1, which makes it fail, so
// that CI cannot pass as a green run of skipped tests. Tests that need the privilege are
// named TestIntegration*.
package testenv

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/nsrun/nsrun/internal/nsthread"
)

// StrictEnv names the environment variable that turns a skip for lack of
// privilege into a failure.
const StrictEnv = "NSTEST_STRICT"

var probe = sync.OnceValue(nsthread.Probe)

// Strict reports whether NSTEST_STRICT=1 is set.
func Strict() bool { return os.Getenv(StrictEnv) == "1" }

// Privileged reports whether this process may create network namespaces,
// found by trying once per process; the error says why not.
func Privileged() error { return probe() }

// RequirePrivilege skips the test, with the reason, when this process
// cannot create network namespaces (or this is not Linux); under
// NSTEST_STRICT=1 it fails it.
func RequirePrivilege(tb testing.TB) {
	tb.Helper()
	err := probe()
	switch {
	case err == nil:
	case runtime.GOOS != "linux":
		end(tb, err.Error())
	default:
		SkipOrFail(tb, fmt.Errorf("creating a network namespace: %w", err))
	}
}

// RequireRealRoot skips the test when this process may create network
// namespaces but is not the host's real root: in a rootless run (see
// nstest.Main) it is root of a user namespace that maps only the user who
// started it. why says what the test does that only the real root can
// (write the host's /etc, switch to another user), and the skip quotes it.
// Unlike a lack of privilege, this skip stays a skip under NSTEST_STRICT=1:
// a rootless run cannot do these things by design. Without the privilege
// at all it is RequirePrivilege. Use it only where the same assertion
// cannot be made rootless.
func RequireRealRoot(tb testing.TB, why string) {
	tb.Helper()
	RequirePrivilege(tb)
	if err := realRoot(); err != nil {
		tb.Skipf("needs the host's real root to %s: %v", why, err)
	}
}

// SkipOrFail ends the test because err, a lack of privilege, stopped it:
// a skip, or a failure under NSTEST_STRICT=1.
func SkipOrFail(tb testing.TB, err error) {
	tb.Helper()
	end(tb, fmt.Sprintf("needs the privilege to create network namespaces (%s; %s=1 makes this a failure): %v", advice(), StrictEnv, err))
}

// end skips the test with msg, or fails it under NSTEST_STRICT=1.
func end(tb testing.TB, msg string) {
	tb.Helper()
	if Strict() {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}
