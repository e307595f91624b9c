package nsthread_test

import (
	"errors"
	"net"
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

// threadNS returns the calling goroutine's thread and its namespace; the
// caller must have locked the goroutine.
func threadNS() (tid int, id nsthread.ID) {
	id, _ = nsthread.Stat("/proc/thread-self/ns/net")
	return unix.Gettid(), id
}

func hostID() nsthread.ID { _, id, _ := nsthread.Host(); return id }

// requireThreadDies waits for the thread tid of this process to end.
func requireThreadDies(t *testing.T, tid int) {
	t.Helper()
	task := "/proc/self/task/" + strconv.Itoa(tid)
	require.Eventually(t, func() bool { _, err := os.Stat(task); return err != nil },
		5*time.Second, 5*time.Millisecond, "thread %d is still alive: it must not be reused", tid)
}

// TestIntegrationDoNeverMovesTheCaller: fn runs inside, on another
// thread, while the caller's thread stays in the host namespace all along.
func TestIntegrationDoNeverMovesTheCaller(t *testing.T) {
	fd, id := openNS(t)
	runtime.LockOSThread() // to look at the caller's thread during and after
	defer runtime.UnlockOSThread()
	tid, before := threadNS()
	require.Equal(t, hostID(), before)
	var insideTid int
	var inside, callerDuring nsthread.ID
	require.NoError(t, nsthread.Do(fd, func() error {
		insideTid, inside = threadNS()
		callerDuring, _ = nsthread.Stat("/proc/self/task/" + strconv.Itoa(tid) + "/ns/net")
		return nil
	}))
	assert.NotEqual(t, tid, insideTid, "fn runs on a thread of its own")
	assert.Equal(t, id, inside)
	assert.Equal(t, hostID(), callerDuring, "the caller's thread stays at home while fn runs")
	_, after := threadNS()
	assert.Equal(t, hostID(), after)

	want := errors.New("boom")
	assert.Equal(t, want, nsthread.Do(fd, func() error { return want }), "fn's error comes back as is")
}

func TestIntegrationDoPanicAndGoexitGoOnInTheCaller(t *testing.T) {
	fd, _ := openNS(t)
	// A panic reaches the caller after the switch back.
	var home nsthread.ID
	assert.PanicsWithValue(t, "inside", func() {
		defer func() {
			runtime.LockOSThread()
			_, home = threadNS()
			runtime.UnlockOSThread()
		}()
		nsthread.Do(fd, func() error { panic("inside") })
	})
	assert.Equal(t, hostID(), home)

	// runtime.Goexit (t.FailNow) ends the caller's goroutine, after the
	// switch back; its deferred calls run at home.
	done := make(chan nsthread.ID, 1)
	go func() {
		defer func() {
			runtime.LockOSThread()
			_, id := threadNS()
			runtime.UnlockOSThread()
			done <- id
		}()
		nsthread.Do(fd, func() error { runtime.Goexit(); return nil })
		t.Error("Goexit inside Do must end the caller's goroutine")
	}()
	assert.Equal(t, hostID(), <-done)

	// Go reports Goexit as an error instead: its caller goes on.
	assert.ErrorIs(t, <-nsthread.Go(fd, func() error { runtime.Goexit(); return nil }), nsthread.ErrGoexit)
}

// TestIntegrationDoHandsBackAfterSpinningOrParking: Do waits for a short
// fn by yielding and for a long one by parking (see task.wait). Either way
// the outcome (error, panic, Goexit) reaches the caller only once the
// thread is home, and calls racing the switch from one wait to the other
// (fn ending right at the spin's deadline, many callers at once) lose
// nothing; -race checks the hand-over of the result.
func TestIntegrationDoHandsBackAfterSpinningOrParking(t *testing.T) {
	fd, id := openNS(t)
	for _, d := range []time.Duration{0, 30 * time.Microsecond, 50 * time.Microsecond, 2 * time.Millisecond} {
		slow := func() {
			for end := time.Now().Add(d); time.Now().Before(end); {
			}
		}
		want := errors.New("boom")
		var in nsthread.ID
		err := nsthread.Do(fd, func() error { slow(); _, in = threadNS(); return want })
		assert.Equal(t, want, err, "fn of %v: its error", d)
		assert.Equal(t, id, in, "fn of %v runs inside", d)
		assert.PanicsWithValue(t, "inside", func() {
			_ = nsthread.Do(fd, func() error { slow(); panic("inside") })
		}, "fn of %v: its panic", d)
		done := make(chan bool)
		go func() {
			defer func() { done <- true }()
			_ = nsthread.Do(fd, func() error { slow(); runtime.Goexit(); return nil })
			t.Errorf("fn of %v: Goexit inside Do must end the caller's goroutine", d)
		}()
		<-done
	}

	const callers, calls = 8, 200
	errc := make(chan error, callers)
	for c := range callers {
		go func() {
			for i := range calls {
				want := strconv.Itoa(c*calls + i)
				var got string
				err := nsthread.Do(fd, func() error {
					if i%3 == 0 {
						time.Sleep(time.Duration(i%40) * time.Microsecond)
					}
					if _, in := threadNS(); in != id {
						return errors.New("fn ran outside the namespace")
					}
					got = want
					return nil
				})
				if err == nil && got != want {
					err = errors.New("call " + want + " saw " + got)
				}
				if err != nil {
					errc <- err
					return
				}
			}
			errc <- nil
		}()
	}
	for range callers {
		require.NoError(t, <-errc)
	}
	runtime.LockOSThread()
	_, home := threadNS()
	runtime.UnlockOSThread()
	assert.Equal(t, hostID(), home)
}

// TestIntegrationDoThatCannotComeBackKillsItsThread breaks the switch back
// both ways it can break: setns fails (no host fd), or setns succeeds into
// another namespace than the host's (the host fd's number reused). Either
// way fn's thread must never run another goroutine: it dies, Do says so,
// and the caller's thread is untouched.
func TestIntegrationDoThatCannotComeBackKillsItsThread(t *testing.T) {
	fd, _ := openNS(t)
	otherFd, _ := openNS(t)
	for name, sabotage := range map[string]func() func(){
		"setns fails":          nsthread.SabotageHost,
		"setns goes elsewhere": func() func() { return nsthread.SwapHost(otherFd) },
	} {
		t.Run(name, func(t *testing.T) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var fnTid int
			var undo func()
			err := nsthread.Do(fd, func() error {
				fnTid, _ = threadNS()
				undo = sabotage()
				return nil
			})
			undo() // Do has returned: the switch back is over
			assert.ErrorContains(t, err, "OS thread terminated")
			requireThreadDies(t, fnTid)
			_, now := threadNS()
			assert.Equal(t, hostID(), now, "the caller's thread is where it was")
		})
	}
}

// TestIntegrationDoFromAPinnedGoroutine: a goroutine pinned in one
// namespace (nstest.Run's) calls Do for another. Its thread stays in its
// own namespace; fn's thread dies if it cannot come back.
func TestIntegrationDoFromAPinnedGoroutine(t *testing.T) {
	fd, id := openNS(t)
	otherFd, other := openNS(t)
	type outcome struct {
		tid, fnTid  int
		fnIn, after nsthread.ID
		err, sabErr error
		sabTid      int
	}
	done := make(chan outcome, 1)
	go func() {
		var o outcome
		defer func() { done <- o }()
		exit, err := nsthread.Enter(fd)
		if err != nil {
			o.err = err
			return
		}
		defer exit()
		o.tid, _ = threadNS()
		o.err = nsthread.Do(otherFd, func() error { o.fnTid, o.fnIn = threadNS(); return nil })
		_, o.after = threadNS()
		var undo func()
		o.sabErr = nsthread.Do(otherFd, func() error {
			o.sabTid, _ = threadNS()
			undo = nsthread.SabotageHost()
			return nil
		})
		undo() // Do has returned: the fresh goroutine's switch back is over
	}()
	o := <-done
	require.NoError(t, o.err)
	assert.NotEqual(t, o.tid, o.fnTid, "fn runs on another thread")
	assert.Equal(t, other, o.fnIn)
	assert.Equal(t, id, o.after, "the pinned thread stays where it was pinned")
	assert.ErrorContains(t, o.sabErr, "OS thread terminated")
	requireThreadDies(t, o.sabTid)

	// Goexit on the fresh goroutine ends the pinned caller too.
	goexited := make(chan bool, 1)
	go func() {
		exit, err := nsthread.Enter(fd)
		require.NoError(t, err)
		defer func() { goexited <- exit() == nil }()
		nsthread.Do(otherFd, func() error { runtime.Goexit(); return nil })
		t.Error("Goexit inside Do must end the caller's goroutine")
	}()
	assert.True(t, <-goexited)
}

// TestIntegrationNestedDoKeepsTheOuterNamespace: a Do inside Do's (or Go's)
// function runs inside its own namespace, and the outer function goes on
// inside the outer one.
func TestIntegrationNestedDoKeepsTheOuterNamespace(t *testing.T) {
	fd, id := openNS(t)
	otherFd, other := openNS(t)
	type seen struct{ inner, after nsthread.ID }
	nested := func(s *seen) func() error {
		return func() error {
			if err := nsthread.Do(otherFd, func() error { _, s.inner = threadNS(); return nil }); err != nil {
				return err
			}
			_, s.after = threadNS()
			return nil
		}
	}
	var viaDo, viaGo seen
	require.NoError(t, nsthread.Do(fd, nested(&viaDo)))
	require.NoError(t, <-nsthread.Go(fd, nested(&viaGo)))
	for _, s := range []seen{viaDo, viaGo} {
		assert.Equal(t, other, s.inner)
		assert.Equal(t, id, s.after, "the outer function is still inside its namespace")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	_, now := threadNS()
	assert.Equal(t, hostID(), now)
}

// TestIntegrationCreateGivesTheNamedNamespace: the fd Create returns (got
// from the lo socket, or by opening the thread's namespace) is the named
// namespace, close-on-exec (a child must not inherit a way in), and lo is
// up inside when asked for.
func TestIntegrationCreateGivesTheNamedNamespace(t *testing.T) {
	for _, lo := range []bool{true, false} {
		t.Run("lo up "+strconv.FormatBool(lo), func(t *testing.T) {
			_, _ = openNS(t) // the privilege check, and a namespace beside
			path := filepath.Join(t.TempDir(), "ns")
			require.NoError(t, os.WriteFile(path, nil, 0))
			watched := -1
			fd, id, err := nsthread.Create(nsthread.Spec{Path: path, LoopbackUp: lo, Watch: func(fd int) { watched = fd }})
			require.NoError(t, err)
			t.Cleanup(func() { unix.Close(fd); unix.Unmount(path, unix.MNT_DETACH) })
			assert.Equal(t, fd, watched, "Watch gets the fd, before the name exists")
			named, err := nsthread.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, named, id)
			flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
			require.NoError(t, err)
			assert.NotZero(t, flags&unix.FD_CLOEXEC, "close-on-exec")
			var up bool
			require.NoError(t, nsthread.Do(fd, func() error {
				ifi, err := net.InterfaceByName("lo")
				up = err == nil && ifi.Flags&net.FlagUp != 0
				return err
			}))
			assert.Equal(t, lo, up)
		})
	}
}
