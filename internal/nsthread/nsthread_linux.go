// Package nsthread is the only code in this module that calls
// runtime.LockOSThread, unix.Setns or unix.Unshare.
//
// Its rules, which every function here keeps:
//   - The caller's thread never changes namespace, except in Enter, Join
//     and Isolate, whose callers ask for exactly that: Do, Go, Create and
//     Probe work on fresh goroutines of their own.
//   - A thread is locked before it is switched, and switched back to the
//     host namespace (the process's network namespace when this package was
//     initialised) before it is unlocked. The switch back is verified by
//     comparing the namespace it went to with the host's, by inode.
//   - If the switch back cannot be verified, the thread stays locked to its
//     goroutine: the Go runtime destroys it when the goroutine ends instead
//     of returning it tainted to the pool (the main thread it parks, which
//     is as good).
package nsthread

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// selfPath is the calling thread's network namespace file.
const selfPath = "/proc/thread-self/ns/net"

// ID identifies a namespace by the device and inode of its nsfs file, as
// iproute2 and lsns do.
type ID struct{ Dev, Ino uint64 }

// String formats the ID as the kernel does in /proc/PID/ns/net links.
func (id ID) String() string { return fmt.Sprintf("net:[%d]", id.Ino) }

// Stat returns the ID of the namespace file at path.
func Stat(path string) (ID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return ID{}, err
	}
	return ID{Dev: st.Dev, Ino: st.Ino}, nil
}

// Fstat returns the ID of the namespace open as fd.
func Fstat(fd int) (ID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return ID{}, err
	}
	return ID{Dev: st.Dev, Ino: st.Ino}, nil
}

var host struct {
	fd   int
	id   ID
	link string // readlink of the host namespace: "net:[INODE]"
	err  error
}

// init runs on the main thread, locked by the runtime during package
// initialisation, so selfPath is the process's original network namespace.
// Opening it once keeps every later switch back to a single setns call.
func init() {
	fd, err := unix.Open(selfPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		host.err = fmt.Errorf("open host network namespace: %w", err)
		return
	}
	id, err := Fstat(fd)
	if err != nil {
		unix.Close(fd)
		host.err = fmt.Errorf("stat host network namespace: %w", err)
		return
	}
	host.fd, host.id, host.link = fd, id, id.String()
}

// Host returns the process's original network namespace: an fd owned by
// this package (never close it) and its ID.
func Host() (fd int, id ID, err error) { return host.fd, host.id, host.err }

// restore switches the locked calling thread back to the host namespace and
// verifies that it got there. setns returning 0 means the thread is now in
// the namespace that host.fd refers to, so what is left to verify is that
// host.fd still refers to the host namespace: code elsewhere in the process
// may have closed it and got another namespace under the same number.
// Fstat of the fd checks that by device and inode, the identity iproute2
// uses, for one cheap syscall; reading /proc/thread-self/ns/net instead
// walks /proc, which costs more than both setns calls together on a loaded
// machine (see BenchmarkDo). A mismatch, or any error, fails the restore,
// and the thread is destroyed. The one swap this cannot see is a second
// one undoing the first between the setns and the fstat (another namespace
// at host.fd's number during the setns, the host namespace back by the
// fstat), which takes two closes of an fd this package owns within a
// microsecond.
func restore() error {
	if err := unix.Setns(host.fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("switch back to host network namespace: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(host.fd, &st); err != nil {
		return fmt.Errorf("verify host network namespace: %w", err)
	}
	if got := (ID{Dev: st.Dev, Ino: st.Ino}); got != host.id {
		return fmt.Errorf("verify host network namespace: switched to %s, want %s", got, host.link)
	}
	return nil
}

// release restores the locked calling thread and unlocks it. If restoring
// fails, the thread stays locked so that it dies with its goroutine; on the
// main thread, which the runtime would park rather than destroy, it panics.
func release() error {
	err := restore()
	if err == nil {
		runtime.UnlockOSThread()
		return nil
	}
	if unix.Gettid() == unix.Getpid() {
		panic("nsthread: cannot restore the main thread's network namespace: " + err.Error())
	}
	return fmt.Errorf("%w (OS thread terminated)", err)
}

// ErrGoexit is sent by Go when the function ended through runtime.Goexit,
// which t.FailNow and t.SkipNow call: they must not be used inside Go,
// whose function runs on a goroutine the test does not own.
var ErrGoexit = errors.New("function called runtime.Goexit (t.FailNow, t.Fatal or t.SkipNow cannot be used inside Go)")

type result struct {
	err      error
	panicked bool
	value    any
}

// task is one function to run on a throwaway locked thread inside a
// namespace: the one open as fd, or a new one. Tasks come from a pool, so
// that a call allocates no channel.
type task struct {
	fd      int  // the namespace to enter, unless unshare
	unshare bool // enter a new network namespace instead
	fn      func() error
	r       result
	goexit  bool          // fn ended through runtime.Goexit
	state   atomic.Int32  // Do, Create: running, finished or parked (see wait)
	done    chan struct{} // Do, Create: told once the thread is restored (or destroyed), if the waiter parked
	errc    chan error    // Go: receives fn's error instead
}

// A task's state, for the hand-back to the waiter (see wait).
const (
	running  = iota // fn's goroutine has not reported yet
	finished        // it reported while the waiter was spinning: no wake-up needed
	parked          // the waiter gave up spinning and waits on done
)

// spinFor is how long wait yields to fn's goroutine before it parks. Two
// setns calls take a few microseconds; parking, and the wake-up that ends
// it, cost more than that again on machines where waking a thread is
// dear (a futex wake that crosses CPUs), so short functions are waited for
// by yielding instead.
const spinFor = 50 * time.Microsecond

var tasks = sync.Pool{New: func() any { return &task{done: make(chan struct{}, 1)} }}

// run executes t.fn on the current goroutine, which it locks and moves into
// the namespace, and reports the outcome. If entering fails the thread has
// not moved and is unlocked as is; after it, the thread is restored (or
// destroyed). It must be the whole of its goroutine: if the switch back
// fails, the goroutine has to end while still locked. The outcome is
// reported from a deferred function, so it is reported even when fn ends
// its goroutine with runtime.Goexit. After reporting, run touches t no more
// (Do hands it to the next caller).
func (t *task) run() {
	runtime.LockOSThread()
	exited, entered := true, false
	defer func() {
		if exited {
			if p := recover(); p != nil {
				t.r.panicked, t.r.value = true, p
			} else {
				t.r.err, t.goexit = ErrGoexit, true
			}
		}
		if !entered {
			// enter failed: the thread is where it was, at home.
			runtime.UnlockOSThread()
		} else if err := release(); err != nil {
			t.r.err = errors.Join(t.r.err, err)
		}
		// The thread is home, or dies with this goroutine.
		if errc := t.errc; errc != nil {
			if t.r.panicked {
				panic(t.r.value)
			}
			errc <- t.r.err
			return
		}
		if !t.state.CompareAndSwap(running, finished) {
			t.done <- struct{}{} // the waiter parked
		}
	}()
	if err := t.enter(); err != nil {
		exited = false
		t.r.err = err
		return
	}
	entered = true
	t.r.err = t.fn()
	exited = false
}

// enter moves the locked calling thread into t's namespace.
func (t *task) enter() error {
	if t.unshare {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare network namespace: %w", err)
		}
		return nil
	}
	if err := unix.Setns(t.fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter network namespace: %w", err)
	}
	return nil
}

// wait runs t on a fresh goroutine and waits until its thread is restored
// (or destroyed). It returns the outcome and hands t back to the pool.
//
// With spin (Do, whose function is usually short), it first waits by
// yielding (runtime.Gosched) for up to spinFor: the new goroutine usually
// runs at once on this very P, and when it ends, nothing has to be woken.
// Only then does it park on t.done. The state word decides, by
// compare-and-swap, which of the two the goroutine finds: a waiter still
// spinning (finished: it sees the state and goes on) or a parked one (it is
// sent a value). Either way the waiter reads t.r only after the goroutine
// has written it, and the goroutine touches t no more once it has reported.
func (t *task) wait(spin bool) (r result, goexit bool) {
	t.state.Store(running)
	go t.run()
	if (!spin || !t.spin()) && t.state.CompareAndSwap(running, parked) {
		<-t.done
	}
	r, goexit = t.r, t.goexit
	t.fn, t.r, t.goexit = nil, result{}, false
	tasks.Put(t)
	return r, goexit
}

// spin yields until t's goroutine has finished, for up to spinFor, and
// reports whether it has.
func (t *task) spin() bool {
	start := time.Now()
	for i := 0; ; i++ {
		runtime.Gosched()
		if t.state.Load() == finished {
			return true
		}
		if i%8 == 7 && time.Since(start) > spinFor {
			return false
		}
	}
}

// Do runs fn inside the network namespace open as fd and returns its
// error. fn runs on a fresh goroutine locked to its OS thread, which is
// switched in before fn and back after it, and verified; if that fails the
// thread is destroyed rather than reused, and the error says so. The
// caller's goroutine and thread never change namespace, whatever they are
// (a goroutine pinned by Enter or another library included). A panic in
// fn, or runtime.Goexit (t.FailNow), goes on in the caller once fn's
// thread is restored, as if fn had been called directly. Goroutines
// started by fn do not inherit the namespace.
func Do(fd int, fn func() error) error {
	if host.err != nil {
		return host.err
	}
	return doFresh(fd, fn)
}

// doFresh runs fn as Do does.
func doFresh(fd int, fn func() error) error {
	t := tasks.Get().(*task)
	t.fd, t.unshare, t.fn = fd, false, fn
	r, goexit := t.wait(true)
	switch {
	case r.panicked:
		panic(r.value)
	case goexit:
		runtime.Goexit()
	}
	return r.err
}

// Go starts fn on a fresh goroutine whose thread is locked and switched
// into the namespace open as fd, and returns a channel that receives fn's
// error (ErrGoexit if fn called runtime.Goexit). A panic in fn crashes the
// program, as in any goroutine, but only after the thread has been
// restored; a thread that cannot be restored is destroyed, and the error
// says so.
func Go(fd int, fn func() error) <-chan error {
	errc := make(chan error, 1)
	if host.err != nil {
		errc <- host.err
		return errc
	}
	t := &task{fd: fd, fn: fn, errc: errc}
	go t.run()
	return errc
}

// Enter locks the calling goroutine to its thread and switches that thread
// into the network namespace open as fd. The returned exit function must be
// called exactly once, on the same goroutine, before the goroutine ends: it
// switches back, verifies, and unlocks; if that fails the thread stays locked
// and dies with the goroutine (or, on the main thread, exit panics).
func Enter(fd int) (exit func() error, err error) {
	if host.err != nil {
		return nil, host.err
	}
	runtime.LockOSThread()
	exit = func() error {
		if err := restore(); err != nil {
			// Away for good: release's rules.
			if unix.Gettid() == unix.Getpid() {
				panic("nsthread: cannot restore the main thread's network namespace: " + err.Error())
			}
			return fmt.Errorf("%w (OS thread terminated)", err)
		}
		runtime.UnlockOSThread()
		return nil
	}
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		if rerr := exit(); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return nil, fmt.Errorf("enter network namespace: %w", err)
	}
	return exit, nil
}

// Spec says what Create makes.
type Spec struct {
	// Path is an existing empty file, which the namespace is bound onto:
	// that names it.
	Path string
	// LoopbackUp sets lo up.
	LoopbackUp bool
	// Watch, if not nil, is called with an fd of the namespace before the
	// namespace has a name: while nobody else can reach it, and with its
	// nsfs inode pinned by the fd, so that a watch on that inode started
	// then sees every later open of the namespace, by its name or
	// otherwise.
	Watch func(fd int)
	// Setup, if not nil, runs inside the namespace once it is named and lo
	// is up.
	Setup func() error
}

// Create makes a new network namespace as s says and returns an fd of it
// (the caller closes it) and its ID. It makes it on a fresh goroutine's
// thread, locked and moved into it (unshare), which is switched back and
// verified afterwards, or destroyed: the caller's thread never moves. If
// Setup (or lo) fails the bind mount stays: the caller removes s.Path.
func Create(s Spec) (fd int, id ID, err error) {
	if host.err != nil {
		return -1, ID{}, host.err
	}
	fd = -1
	inside := func() error {
		var err error
		rt := -1
		if s.LoopbackUp {
			if rt, err = routeSocket(); err != nil {
				return fmt.Errorf("bring lo up: %w", err)
			}
			defer unix.Close(rt)
			// The namespace of the socket, which is this one, without the
			// walk through /proc that opening selfPath costs.
			fd, err = unix.IoctlRetInt(rt, unix.SIOCGSKNS)
		}
		if rt < 0 || err != nil {
			fd, err = unix.Open(selfPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		}
		if err != nil {
			fd = -1
			return fmt.Errorf("open new network namespace: %w", err)
		}
		if id, err = Fstat(fd); err != nil {
			return fmt.Errorf("stat new network namespace: %w", err)
		}
		if s.Watch != nil {
			s.Watch(fd)
		}
		if err := unix.Mount(selfPath, s.Path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind network namespace to %s: %w", s.Path, err)
		}
		if rt >= 0 {
			if err := loopbackUp(rt); err != nil {
				return fmt.Errorf("bring lo up: %w", err)
			}
		}
		if s.Setup == nil {
			return nil
		}
		return s.Setup()
	}
	if err = createFresh(inside); err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		return -1, ID{}, err
	}
	return fd, id, nil
}

// createFresh runs inside on a fresh goroutine's thread, moved into a new
// network namespace, and destroys the thread if it cannot come back.
func createFresh(inside func() error) error {
	t := tasks.Get().(*task)
	t.unshare, t.fn = true, inside
	r, goexit := t.wait(false) // unshare alone takes longer than spinFor
	switch {
	case r.panicked:
		panic(r.value)
	case goexit:
		runtime.Goexit()
	}
	return r.err
}

// Probe reports whether this process may create network namespaces, by
// trying: it unshares a new one on a throwaway locked thread, which is then
// switched back (or destroyed). The error matches os.ErrPermission when the
// privilege is missing.
func Probe() error {
	if host.err != nil {
		return host.err
	}
	t := tasks.Get().(*task)
	t.unshare, t.fn = true, func() error { return nil }
	r, _ := t.wait(false)
	return r.err
}

// Bind binds the namespace file src (for example /proc/PID/ns/net) onto
// path, an existing empty file. It needs no thread switch.
func Bind(src, path string) error {
	if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind %s to %s: %w", src, path, err)
	}
	return nil
}

// Join locks the calling goroutine to its thread and switches that thread,
// for good, into the network namespace open as fd, which must be want: it
// checks fd by inode before the switch and the thread's namespace by inode
// after it. It is for a process that stays on this thread for the rest of
// its life, such as a re-executed process on its main thread during
// package initialisation, whose later mounts and forks must happen inside
// the namespace. The thread never switches back, and the process's other
// threads stay where they are. An error leaves the thread locked and
// possibly switched, so the caller must exit.
func Join(fd int, want ID) error {
	runtime.LockOSThread()
	got, err := Fstat(fd)
	if err != nil {
		return fmt.Errorf("stat network namespace: %w", err)
	}
	if got != want {
		return fmt.Errorf("join network namespace: fd is %s, want %s", got, want)
	}
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter network namespace %s: %w", want, err)
	}
	var buf [48]byte
	n, err := unix.Readlink(selfPath, buf[:])
	if err != nil {
		return fmt.Errorf("verify network namespace: %w", err)
	}
	if string(buf[:n]) != want.String() {
		return fmt.Errorf("verify network namespace: thread is in %s, want %s", buf[:n], want)
	}
	return nil
}

// Isolate locks the calling goroutine to its thread for good and gives that
// thread new namespaces of the kinds in flags (unix.CLONE_NEWNS and
// unix.CLONE_NEWUTS; unix.CLONE_NEWNET for reexec's probe of whether a
// user namespace holds capabilities; CLONE_NEWUSER is refused in a
// multithreaded process, so a user namespace must come from clone). It is
// the first step of a re-executed process (see internal/reexec) that
// prepares a mount namespace of its own on its main thread and then execs,
// or forks its payload, from that thread; the process's other threads keep
// the host's namespaces. An error leaves the thread locked, so the caller
// must exit.
func Isolate(flags int) error {
	runtime.LockOSThread()
	if err := unix.Unshare(flags); err != nil {
		return fmt.Errorf("unshare mount namespace: %w", err)
	}
	return nil
}

// Made describes a namespace this process made.
type Made struct {
	Path string // where it was bound
	UID  uint64 // its UniqueID, 0 where the kernel has none
}

// created maps the ID of every namespace made in this process (see
// Remember) to what is known of it, so that leak checks judge only what this
// process made (other test binaries may be creating namespaces on the same
// machine at the same time).
var created sync.Map

// Remember records that this process made the namespace id, open as fd
// and bound at path.
func Remember(id ID, fd int, path string) {
	uid, _ := UniqueID(fd)
	created.Store(id, Made{Path: path, UID: uid})
}

// Created returns the namespaces this process made, by ID. Most are long
// gone: it is a history. Their inode numbers may since have been given to
// namespaces made by others: compare UniqueIDs before concluding anything.
func Created() map[ID]Made {
	out := map[ID]Made{}
	created.Range(func(k, v any) bool { out[k.(ID)] = v.(Made); return true })
	return out
}

// nsGetID is NS_GET_ID from linux/nsfs.h: _IOR(0xb7, 0xd, __u64).
const nsGetID = 2<<30 | 8<<16 | 0xb7<<8 | 0xd

// UniqueID returns the kernel's 64-bit id of the namespace open as fd.
// Unlike the inode number, which the kernel hands to a new namespace as soon
// as the old one is freed, it is never reused. ok is false on kernels
// without NS_GET_ID (before 6.18).
func UniqueID(fd int) (id uint64, ok bool) {
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), nsGetID, uintptr(unsafe.Pointer(&id)))
	return id, errno == 0
}

// UniqueIDAt is UniqueID of the namespace file at path.
func UniqueIDAt(path string) (id uint64, ok bool) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, false
	}
	defer unix.Close(fd)
	return UniqueID(fd)
}
