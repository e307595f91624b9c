package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// repoRoot is the module root, two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	return root
}

// runIn runs a command in dir with extra environment and returns its
// combined output and exit code.
func runIn(t *testing.T, dir string, env []string, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, ctx.Err(), "%s timed out: %s", name, out)
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		require.NoError(t, err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

func TestIntegrationGoTestExec(t *testing.T) {
	testenv.RequirePrivilege(t)
	root := repoRoot(t)
	out, code := runIn(t, root, nil, "go", "test", "-count=1", "-v", "-exec", nsrunBin, "./examples/gopkg/")
	require.Equal(t, 0, code, out)
	for _, name := range []string{"TestOnlyLoopback", "TestFixedPort", "TestFailOnRequest"} {
		assert.Contains(t, out, "--- PASS: "+name, "ran in a namespace, not skipped")
	}
	out, code = runIn(t, root, []string{"GOPKG_FAIL=1"}, "go", "test", "-count=1", "-exec", nsrunBin, "./examples/gopkg/")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "failing on request")
}

func TestIntegrationPytest(t *testing.T) {
	testenv.RequirePrivilege(t)
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import pytest").Run(); err != nil {
		t.Skipf("no pytest for %s (apt-get install python3-pytest): %v", python, err)
	}
	root := repoRoot(t)
	args := []string{"--", python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "examples/pytest"}
	out, code := runIn(t, root, nil, nsrunBin, args...)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "4 passed, 1 skipped")
	out, code = runIn(t, root, []string{"NSRUN_PYTEST_FAIL=1"}, nsrunBin, args...)
	assert.Equal(t, 1, code, out)
	assert.True(t, strings.Contains(out, "1 failed, 4 passed"), out)
}
