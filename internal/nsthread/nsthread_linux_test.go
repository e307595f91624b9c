package nsthread_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/nsrun/nsrun/internal/nsthread"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Keep the main goroutine on the main thread, so TestMain can check what
// happens to the main thread itself (the runtime parks it, never destroys it).
func init() { runtime.LockOSThread() }

func TestMain(m *testing.M) {
	// The main thread's round trip needs the privilege; without it the
	// tests below skip (testenv's rule), and so does this check, unless
	// NSTEST_STRICT=1.
	if err := testenv.Privileged(); err != nil {
		if testenv.Strict() {
			os.Stderr.WriteString("main thread round trip: no privilege under " + testenv.StrictEnv + "=1: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stderr.WriteString("main thread round trip skipped: " + err.Error() + "\n")
	} else if err := mainThreadRoundTrip(); err != nil {
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
	fd, _, err := nsthread.Create(nsthread.Spec{Path: path})
	if err != nil {
		cleanup()
		return "", nil, err
	}
	unix.Close(fd)
	return path, cleanup, nil
}

func openNS(t *testing.T) (int, nsthread.ID) {
	testenv.RequirePrivilege(t)
	path, cleanup, err := tempNS()
	require.NoError(t, err)
	t.Cleanup(cleanup)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	id, err := nsthread.Fstat(fd)
	require.NoError(t, err)
	return fd, id
}

func TestIntegrationThreadThatCannotComeBackDies(t *testing.T) {
	fd, id := openNS(t)
	tids := make(chan int, 1)
	errs := make(chan error, 1)
	go func() {
		exit, err := nsthread.Enter(fd)
		if err != nil {
			tids <- 0
			errs <- err
			return
		}
		tids <- unix.Gettid()
		undo := nsthread.SabotageHost()
		err = exit()
		undo()
		errs <- err
		// The goroutine ends here still locked: the runtime must destroy
		// the thread rather than run other goroutines on it.
	}()
	tid, err := <-tids, <-errs
	require.NotZero(t, tid, "enter: %v", err)
	require.ErrorContains(t, err, "OS thread terminated")
	task := "/proc/self/task/" + strconv.Itoa(tid)
	assert.Eventually(t, func() bool { _, err := os.Stat(task); return err != nil },
		5*time.Second, 5*time.Millisecond, "thread %d still alive (in %v)", tid, id)
}

func TestEnterBadFdChangesNothing(t *testing.T) {
	_, err := nsthread.Enter(-1)
	require.Error(t, err)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cur, err := nsthread.Stat("/proc/thread-self/ns/net")
	require.NoError(t, err)
	_, host, _ := nsthread.Host()
	assert.Equal(t, host, cur)
	assert.Error(t, nsthread.Do(-1, func() error { t.Error("fn must not run"); return nil }))
}

func TestIntegrationJoinStaysAndVerifies(t *testing.T) {
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
		cur, _ := nsthread.Stat("/proc/thread-self/ns/net")
		done <- joined{unix.Gettid(), cur, err}
	}()
	j := <-done
	require.NoError(t, j.err)
	assert.Equal(t, id, j.cur)
	task := "/proc/self/task/" + strconv.Itoa(j.tid)
	assert.Eventually(t, func() bool { _, err := os.Stat(task); return err != nil },
		5*time.Second, 5*time.Millisecond, "thread %d that joined %v still alive", j.tid, id)
}

func TestIntegrationJoinWrongIDChangesNothing(t *testing.T) {
	fd, id := openNS(t)
	_, host, _ := nsthread.Host()
	done := make(chan nsthread.ID, 1)
	errs := make(chan error, 1)
	go func() {
		errs <- nsthread.Join(fd, nsthread.ID{Dev: id.Dev, Ino: id.Ino + 1})
		cur, _ := nsthread.Stat("/proc/thread-self/ns/net")
		done <- cur
	}()
	require.ErrorContains(t, <-errs, "want")
	assert.Equal(t, host, <-done, "a refused Join switched the thread")
}

func TestIntegrationUniqueIDTellsReusedInodesApart(t *testing.T) {
	testenv.RequirePrivilege(t)
	if _, ok := nsthread.UniqueIDAt("/proc/self/ns/net"); !ok {
		t.Skip("kernel without NS_GET_ID (Linux < 6.18): inode numbers are all there is")
	}
	// Make and free namespaces one after the other: the kernel hands a
	// freed inode number out again at once, so some of these share one.
	// Their unique ids must all differ, reused inode or not.
	ids := map[uint64]uint64{} // unique id -> inode
	reused := 0
	inodes := map[uint64]bool{}
	for range 50 {
		path, cleanup, err := tempNS()
		require.NoError(t, err)
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		require.NoError(t, err)
		id, err := nsthread.Fstat(fd)
		require.NoError(t, err)
		uid, ok := nsthread.UniqueID(fd)
		unix.Close(fd)
		cleanup()
		require.True(t, ok)
		if ino, dup := ids[uid]; dup {
			t.Fatalf("unique id %d given to inodes %d and %d", uid, ino, id.Ino)
		}
		ids[uid] = id.Ino
		if inodes[id.Ino] {
			reused++
		}
		inodes[id.Ino] = true
		time.Sleep(5 * time.Millisecond) // the kernel frees namespaces asynchronously
	}
	t.Logf("%d namespaces, %d of them on a reused inode number", len(ids), reused)
}
