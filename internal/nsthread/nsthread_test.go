package nsthread_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/nsrun/nsrun/internal/nsthread"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Keep the main goroutine on the main thread, so TestMain can check what
// happens to the main thread itself (the runtime parks it, never destroys it).
func init() { runtime.LockOSThread() }

func TestMain(m *testing.M) {
	if err := mainThreadRoundTrip(); err != nil {
		os.Stderr.WriteString("main thread: " + err.Error() + "\n")
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// mainThreadRoundTrip enters a namespace on the main thread and leaves it,
// then checks the main thread (whose namespace /proc/self/ns/net shows) is
// back home.
func mainThreadRoundTrip() error {
	if unix.Gettid() != unix.Getpid() {
		return os.ErrInvalid
	}
	path, cleanup, err := tempNS()
	if err != nil {
		return err
	}
	defer cleanup()
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	exit, err := nsthread.Enter(fd)
	if err != nil {
		return err
	}
	if err := exit(); err != nil {
		return err
	}
	_, host, _ := nsthread.Host()
	if id, err := nsthread.Stat("/proc/self/ns/net"); err != nil || id != host {
		return os.ErrInvalid
	}
	return nil
}

// tempNS makes an unnamed-to-iproute2 namespace bound on a temporary file.
func tempNS() (string, func(), error) {
	dir, err := os.MkdirTemp("", "nsthread")
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(dir, "ns")
	cleanup := func() { unix.Unmount(path, unix.MNT_DETACH); os.RemoveAll(dir) }
	if err := os.WriteFile(path, nil, 0); err != nil {
		cleanup()
		return "", nil, err
	}
	if err := nsthread.Create(path, nil); err != nil {
		cleanup()
		return "", nil, err
	}
	return path, cleanup, nil
}

func openNS(t *testing.T) (int, nsthread.ID) {
	path, cleanup, err := tempNS()
	if err != nil {
		t.Skipf("cannot create a network namespace: %v", err)
	}
	t.Cleanup(cleanup)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	id, err := nsthread.Fstat(fd)
	require.NoError(t, err)
	return fd, id
}

func TestThreadThatCannotComeBackDies(t *testing.T) {
	fd, id := openNS(t)
	tids := make(chan int, 1)
	errs := make(chan error, 1)
	go func() {
		exit, err := nsthread.Enter(fd)
		require.NoError(t, err)
		tids <- unix.Gettid()
		undo := nsthread.SabotageHost()
		err = exit()
		undo()
		errs <- err
		// The goroutine ends here still locked: the runtime must destroy
		// the thread rather than run other goroutines on it.
	}()
	tid := <-tids
	require.ErrorContains(t, <-errs, "OS thread terminated")
	task := "/proc/self/task/" + strconv.Itoa(tid)
	assert.Eventually(t, func() bool { _, err := os.Stat(task); return err != nil },
		5*time.Second, 5*time.Millisecond, "thread %d still alive (in %v)", tid, id)
}

func TestDoReportsATerminatedThread(t *testing.T) {
	fd, _ := openNS(t)
	var undo func()
	err := nsthread.Do(fd, func() error {
		undo = nsthread.SabotageHost()
		return nil
	})
	undo()
	assert.ErrorContains(t, err, "OS thread terminated")
}

func TestEnterBadFdChangesNothing(t *testing.T) {
	_, err := nsthread.Enter(-1)
	require.Error(t, err)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cur, err := nsthread.Current()
	require.NoError(t, err)
	_, host, _ := nsthread.Host()
	assert.Equal(t, host, cur)
	assert.Error(t, nsthread.Do(-1, func() error { t.Error("fn must not run"); return nil }))
}

func TestJoinStaysAndVerifies(t *testing.T) {
	fd, id := openNS(t)
	type joined struct {
		tid int
		cur nsthread.ID
		err error
	}
	done := make(chan joined, 1)
	go func() {
		// Join never switches back: the goroutine ends locked, so the
		// runtime destroys the thread, as it must.
		err := nsthread.Join(fd, id)
		cur, _ := nsthread.Current()
		done <- joined{unix.Gettid(), cur, err}
	}()
	j := <-done
	require.NoError(t, j.err)
	assert.Equal(t, id, j.cur)
	task := "/proc/self/task/" + strconv.Itoa(j.tid)
	assert.Eventually(t, func() bool { _, err := os.Stat(task); return err != nil },
		5*time.Second, 5*time.Millisecond, "thread %d that joined %v still alive", j.tid, id)
}

func TestJoinWrongIDChangesNothing(t *testing.T) {
	fd, id := openNS(t)
	_, host, _ := nsthread.Host()
	done := make(chan nsthread.ID, 1)
	errs := make(chan error, 1)
	go func() {
		errs <- nsthread.Join(fd, nsthread.ID{Dev: id.Dev, Ino: id.Ino + 1})
		cur, _ := nsthread.Current()
		done <- cur
	}()
	require.ErrorContains(t, <-errs, "want")
	assert.Equal(t, host, <-done, "a refused Join switched the thread")
}

func TestUniqueIDTellsReusedInodesApart(t *testing.T) {
	if _, ok := nsthread.UniqueIDAt("/proc/self/ns/net"); !ok {
		t.Skip("kernel without NS_GET_ID")
	}
	// Make and free namespaces until one gets an inode number seen before:
	// the kernel hands a freed number out again at once. Their unique ids
	// must differ.
	seen := map[uint64]uint64{}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		path, cleanup, err := tempNS()
		if err != nil {
			t.Skipf("cannot create a network namespace: %v", err)
		}
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		require.NoError(t, err)
		id, err := nsthread.Fstat(fd)
		require.NoError(t, err)
		uid, ok := nsthread.UniqueID(fd)
		unix.Close(fd)
		cleanup()
		require.True(t, ok)
		if old, dup := seen[id.Ino]; dup {
			assert.NotEqual(t, old, uid, "inode %d reused: unique ids must differ", id.Ino)
			return
		}
		seen[id.Ino] = uid
		time.Sleep(20 * time.Millisecond) // the kernel frees namespaces asynchronously
	}
	t.Skipf("no inode number reused in %d namespaces", len(seen))
}
