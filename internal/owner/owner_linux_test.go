package owner

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nsrun/nsrun/internal/paths"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// These tests write records, never namespaces, so they need no privilege:
// they work in a directory of their own, which paths resolves once per
// process, from the environment.
var testDir = filepath.Join(os.TempDir(), "nsrun-owner-test-"+strconv.Itoa(os.Getpid()))

func init() { os.Setenv(paths.NetnsEnv, filepath.Join(testDir, "netns")) }

// fresh empties the test directory for one test.
func fresh(t *testing.T) {
	t.Helper()
	require.Equal(t, filepath.Join(testDir, "nsrun"), paths.Records())
	require.NoError(t, os.RemoveAll(testDir))
	require.NoError(t, os.MkdirAll(paths.Records(), 0o755))
	t.Cleanup(func() { os.RemoveAll(testDir) })
	owned.Lock()
	owned.path = "" // written again in the fresh directory
	owned.Unlock()
}

func nlink(t *testing.T, path string) uint64 {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Stat(path, &st))
	return uint64(st.Nlink)
}

// deadPID returns the pid of a process that has ended.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	require.NoError(t, cmd.Run())
	return cmd.Process.Pid
}

func TestClaimLinksToTheOwnerFile(t *testing.T) {
	fresh(t)
	require.NoError(t, Claim(New("a")))
	require.NoError(t, Claim(New("b")))
	owner, err := ownerFile(false)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), nlink(t, owner), "a.json and b.json are links to the owner file")

	err = Claim(New("a"))
	assert.ErrorIs(t, err, os.ErrExist, "a name is claimed once")

	r, err := Read("a")
	require.NoError(t, err)
	assert.Equal(t, "a", r.Name, "the name is the link's")
	assert.Equal(t, os.Getpid(), r.PID)
	assert.True(t, r.OwnerAlive())
	list, err := List()
	require.NoError(t, err)
	require.Len(t, list, 2, "the owner file is no namespace's record")
	assert.Equal(t, []string{"a", "b"}, []string{list[0].Name, list[1].Name})

	require.NoError(t, RemoveRecord("a"))
	_, err = Read("a")
	assert.ErrorIs(t, err, os.ErrNotExist)
	assert.Equal(t, uint64(2), nlink(t, owner))
}

func TestClaimWritesWholeRecordsWhenNotShared(t *testing.T) {
	fresh(t)
	etc := New("with-etc")
	etc.Etc = true
	require.NoError(t, Claim(etc))
	assert.Equal(t, uint64(1), nlink(t, recordPath("with-etc")), "a record of its own")
	r, err := Read("with-etc")
	require.NoError(t, err)
	assert.True(t, r.Etc)

	other := New("other")
	other.PID = deadPID(t) // somebody else's
	require.NoError(t, Claim(other))
	r, err = Read("other")
	require.NoError(t, err)
	assert.Equal(t, other.PID, r.PID)
	assert.False(t, r.OwnerAlive())
}

func TestReplaceDetachesFromTheOwnerFile(t *testing.T) {
	fresh(t)
	require.NoError(t, Claim(New("kept")))
	r, err := Read("kept")
	require.NoError(t, err)
	r.Kept, r.PID, r.StartTicks = true, 0, 0
	require.NoError(t, Replace(r))
	owner, err := ownerFile(false)
	require.NoError(t, err)
	assert.Equal(t, uint64(1), nlink(t, owner), "the owner file keeps its own content")
	got, err := Read("kept")
	require.NoError(t, err)
	assert.True(t, got.Kept)
	me, err := readFile(owner)
	require.NoError(t, err)
	assert.False(t, me.Kept)
	assert.Equal(t, os.Getpid(), me.PID)
}

func TestClaimWritesTheOwnerFileAgainIfRemoved(t *testing.T) {
	fresh(t)
	require.NoError(t, Claim(New("a")))
	owner, err := ownerFile(false)
	require.NoError(t, err)
	require.NoError(t, os.Remove(owner)) // `rm /run/nsrun/.owner-*`, say
	require.NoError(t, Claim(New("b")))
	r, err := Read("b")
	require.NoError(t, err)
	assert.Equal(t, os.Getpid(), r.PID)
}

// TestSweepRemovesDeadOwnersFiles: the owner file of a dead process goes
// once no record links to it; a live owner's stays, with or without
// records; a dead owner's still linked stays until its records are swept.
func TestSweepRemovesDeadOwnersFiles(t *testing.T) {
	fresh(t)
	require.NoError(t, Claim(New("mine")))
	mine, err := ownerFile(false)
	require.NoError(t, err)
	require.NoError(t, RemoveRecord("mine"))

	deadOwner := func(name string) string {
		r := New("")
		r.PID = deadPID(t)
		path := filepath.Join(paths.Records(), ownerPrefix+name+".json")
		b := []byte(`{"name":"","pid":` + strconv.Itoa(r.PID) + `,"start_ticks":1}`)
		require.NoError(t, os.WriteFile(path, b, 0o600))
		return path
	}
	unlinked, linked := deadOwner("unlinked"), deadOwner("linked")
	require.NoError(t, os.Link(linked, recordPath("leftover")))

	deleted := map[string]bool{}
	swept, err := Sweep(false, func(name string) error { deleted[name] = true; return os.ErrNotExist })
	require.NoError(t, err)
	require.Len(t, swept, 1)
	assert.Equal(t, "leftover", swept[0].Name)
	assert.True(t, deleted["leftover"])
	for path, want := range map[string]bool{mine: true, unlinked: false, linked: false, recordPath("leftover"): false} {
		_, err := os.Stat(path)
		assert.Equal(t, want, err == nil, "%s: %v", path, err)
	}
}

// TestClaimLeavesNothingHalfWritten: a record is all there or not there,
// whichever way it is written; no temporary file stays behind.
func TestClaimLeavesNothingHalfWritten(t *testing.T) {
	fresh(t)
	r := New("whole")
	r.Etc = true
	for _, claim := range []func(string, []byte) error{claimUnnamed, claimByLink} {
		require.NoError(t, RemoveRecord("whole"))
		b := []byte(`{"name":"whole","pid":1}`)
		require.NoError(t, claim(recordPath("whole"), b))
		got, err := os.ReadFile(recordPath("whole"))
		require.NoError(t, err)
		assert.Equal(t, b, got)
		err = claim(recordPath("whole"), b)
		assert.True(t, errors.Is(err, os.ErrExist), "%v", err)
	}
	entries, err := os.ReadDir(paths.Records())
	require.NoError(t, err)
	for _, e := range entries {
		assert.Equal(t, "whole.json", e.Name(), "a leftover beside the record")
	}
}

func TestReleaseRemovesTheOwnerFileOnceUnused(t *testing.T) {
	fresh(t)
	require.NoError(t, Release(), "nothing written yet")
	require.NoError(t, Claim(New("a")))
	owner, err := ownerFile(false)
	require.NoError(t, err)
	require.NoError(t, Release())
	_, err = os.Stat(owner)
	assert.NoError(t, err, "a's record still links to it")
	require.NoError(t, RemoveRecord("a"))
	require.NoError(t, Release())
	_, err = os.Stat(owner)
	assert.ErrorIs(t, err, os.ErrNotExist)
	require.NoError(t, Claim(New("b")), "written again")
	r, err := Read("b")
	require.NoError(t, err)
	assert.Equal(t, os.Getpid(), r.PID)
}
