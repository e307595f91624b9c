package leakcheck_test

import (
	"os"
	"testing"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/leakcheck"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/nsrun/nsrun/nstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMain is nstest.Main, as the suites that use the check have: without
// the privilege the check is proved rootless, where they run it too.
func TestMain(m *testing.M) { nstest.Main(m) }

// tests stands for *testing.M: its Run is the function.
type tests func() int

func (f tests) Run() int { return f() }

func TestWrapReturnsTheTestsCode(t *testing.T) {
	assert.Equal(t, 3, leakcheck.Wrap(tests(func() int { return 3 })).Run())
}

func TestIntegrationWrapFailsARunThatLeaks(t *testing.T) {
	testenv.RequirePrivilege(t)
	var leaked *nsrun.Namespace
	stderr := captureStderr(t)
	code := leakcheck.Wrap(tests(func() int {
		ns, err := nsrun.New()
		require.NoError(t, err)
		leaked = ns
		return 0
	})).Run()
	out := stderr()
	require.NotNil(t, leaked)
	require.NoError(t, leaked.Delete())
	assert.Equal(t, 1, code, "passing tests that leave a namespace fail the run")
	assert.Contains(t, out, "LEAK: named namespace left: "+nsrun.Dir()+"/"+leaked.Name())
	assert.Contains(t, out, "LEAK: owner record left: "+leaked.Name())
}

// captureStderr sends os.Stderr to a file until the returned function is
// called, which restores it and returns what was written.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	require.NoError(t, err)
	old := os.Stderr
	os.Stderr = f
	t.Cleanup(func() { os.Stderr = old })
	return func() string {
		os.Stderr = old
		b, err := os.ReadFile(f.Name())
		require.NoError(t, err)
		return string(b)
	}
}
