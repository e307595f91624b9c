package nsrun_test

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/leakcheck"
	"github.com/nsrun/nsrun/internal/owner"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/nsrun/nsrun/nstest"
	"github.com/stretchr/testify/require"
)

// TestMain runs the tests, rootless when this process lacks the privilege
// (nstest.Main), and then fails the run if anything leaked.
func TestMain(m *testing.M) {
	if helperMain() {
		return
	}
	nstest.Main(leakcheck.Wrap(m))
}

// newNS is nstest.New for the core's own tests.
func newNS(t testing.TB, opts ...nsrun.Option) *nsrun.Namespace {
	t.Helper()
	return nstest.New(t, opts...)
}

// ip runs the real ip command, the oracle for what the library does, and
// returns its trimmed output.
func ip(t testing.TB, args ...string) string {
	t.Helper()
	testenv.RequirePrivilege(t)
	out, err := exec.Command("ip", args...).CombinedOutput()
	require.NoError(t, err, "ip %s: %s", strings.Join(args, " "), out)
	return strings.TrimSpace(string(out))
}

// requireGone checks, through ip and the file system, that name is gone.
func requireGone(t *testing.T, name string) {
	t.Helper()
	require.NotContains(t, strings.Fields(ip(t, "netns", "list")), name)
	_, err := os.Stat(nsrun.Dir() + "/" + name)
	require.True(t, errors.Is(err, os.ErrNotExist), "file %s still there: %v", name, err)
	mi, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	require.NotContains(t, string(mi), nsrun.Dir()+"/"+name+" ")
	_, err = owner.Read(name)
	require.True(t, errors.Is(err, os.ErrNotExist), "owner record of %s still there: %v", name, err)
}
