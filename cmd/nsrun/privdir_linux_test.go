package main

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nsrun/nsrun/internal/paths"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// privateDir returns a directory D for nsrun runs of this test only:
// namespaces in D/netns, owner records in D/nsrun (NSRUN_NETNS_DIR). Other
// runs on the machine, which sweep dead owners' leftovers, cannot race the
// test for its own leftovers there. Cleanup removes everything in it.
func privateDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/run", "nsrun-e2e-")
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, removePrivateDir(t, dir)) })
	return dir
}

// removePrivateDir sweeps what runs left in dir, then unmounts and removes it.
func removePrivateDir(t *testing.T, dir string) error {
	r := runNsrunIn(t, dir, "gc")
	if r.code != 0 {
		t.Logf("gc in %s: %s", dir, r.stderr)
	}
	netns := filepath.Join(dir, "netns")
	entries, _ := os.ReadDir(netns)
	for _, e := range entries {
		detachAll(filepath.Join(netns, e.Name()))
	}
	detachAll(netns)
	return os.RemoveAll(dir)
}

// detachAll lazily unmounts everything stacked on path.
func detachAll(path string) {
	for i := 0; i < 10; i++ {
		if err := unix.Unmount(path, unix.MNT_DETACH); errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return
		}
	}
}

// runNsrunIn runs nsrun with its namespaces in the private dir.
func runNsrunIn(t *testing.T, dir string, args ...string) result {
	t.Helper()
	return runNsrun(t, []string{paths.NetnsEnv + "=" + filepath.Join(dir, "netns")}, args...)
}

// startNsrunIn starts nsrun with its namespaces in the private dir.
func startNsrunIn(t *testing.T, dir string, args ...string) *running {
	t.Helper()
	return startNsrunEnv(t, []string{paths.NetnsEnv + "=" + filepath.Join(dir, "netns")}, args...)
}
