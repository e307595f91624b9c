// Package nsthread is the only code in this module that calls
// runtime.LockOSThread, unix.Setns or unix.Unshare.
//
// Its rules, which every function here keeps:
//   - The caller's goroutine and thread never change namespace, except in
//     Enter, Join and Isolate, whose callers ask for exactly that.
//   - A thread is locked before it is switched, and switched back to the
//     host namespace (the process's network namespace when this package was
//     initialised) before it is unlocked. The switch back is verified by
//     comparing the thread's namespace inode with the host's.
//   - If the switch back cannot be verified, the goroutine ends still locked,
//     so the Go runtime destroys the thread instead of returning it tainted
//     to the pool. The main thread is never destroyed by the runtime (it is
//     parked), so on the main thread a failed restore panics instead.
package nsthread

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
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
// verifies that it got there by comparing namespace inodes. It reads them
// with readlink ("net:[INODE]"), which costs half a stat of the same link;
// all network namespaces share nsfs's one device, so the inode decides.
func restore() error {
	if err := unix.Setns(host.fd, unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("switch back to host network namespace: %w", err)
	}
	var buf [48]byte
	n, err := unix.Readlink(selfPath, buf[:])
	if err != nil {
		return fmt.Errorf("verify host network namespace: %w", err)
	}
	if got := buf[:n]; string(got) != host.link {
		return fmt.Errorf("verify host network namespace: thread is in %s, want %s", got, host.link)
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

// ErrGoexit is returned by Do when the function ended through
// runtime.Goexit, which t.FailNow and t.SkipNow call: they must not be used
// inside Do, whose function runs on a goroutine the test does not own.
var ErrGoexit = errors.New("function called runtime.Goexit (t.FailNow, t.Fatal or t.SkipNow cannot be used inside Do)")

type result struct {
	err      error
	panicked bool
	value    any
}

// run executes fn on the current goroutine, which it locks and moves with
// enter (into another namespace, or a new one), and hands the outcome to
// deliver. If enter fails the thread has not moved and is unlocked as is;
// after it, the thread is restored (or destroyed). It must be the
// last thing its goroutine does: if the switch back fails, the goroutine has
// to end while still locked. deliver is called from a deferred function, so
// it runs even when fn ends its goroutine with runtime.Goexit.
func run(enter, fn func() error, deliver func(result)) {
	runtime.LockOSThread()
	var r result
	exited, entered := true, false
	defer func() {
		if exited {
			if p := recover(); p != nil {
				r.panicked, r.value = true, p
			} else {
				r.err = ErrGoexit
			}
		}
		if !entered {
			// enter failed: the thread is where it was, at home.
			runtime.UnlockOSThread()
		} else if err := release(); err != nil {
			r.err = errors.Join(r.err, err)
		}
		deliver(r)
	}()
	if err := enter(); err != nil {
		exited = false
		r.err = err
		return
	}
	entered = true
	r.err = fn()
	exited = false
}

// setnsTo returns an enter step for run that switches into fd.
func setnsTo(fd int) func() error {
	return func() error {
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("enter network namespace: %w", err)
		}
		return nil
	}
}

// unshareNet is an enter step for run that moves the thread into a new
// network namespace.
func unshareNet() error {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("unshare network namespace: %w", err)
	}
	return nil
}

// Do runs fn on a fresh goroutine whose thread is locked and switched into
// the network namespace open as fd, and returns fn's error. A panic in fn is
// re-raised in the caller's goroutine after the thread has been restored.
// Goroutines started by fn do not inherit the namespace.
func Do(fd int, fn func() error) error {
	if host.err != nil {
		return host.err
	}
	done := make(chan result, 1)
	go run(setnsTo(fd), fn, func(r result) { done <- r })
	r := <-done
	if r.panicked {
		panic(r.value)
	}
	return r.err
}

// Go is Do without waiting: it starts fn inside the namespace and returns a
// channel that receives fn's error. A panic in fn crashes the program, as in
// any goroutine, but only after the thread has been restored.
func Go(fd int, fn func() error) <-chan error {
	errc := make(chan error, 1)
	if host.err != nil {
		errc <- host.err
		return errc
	}
	go run(setnsTo(fd), fn, func(r result) {
		if r.panicked {
			panic(r.value)
		}
		errc <- r.err
	})
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
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		if rerr := release(); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return nil, fmt.Errorf("enter network namespace: %w", err)
	}
	return release, nil
}

// Create makes a new network namespace on a throwaway locked thread, binds it
// onto path (an existing empty file) so that it outlives the thread, and runs
// setup inside it; with path "" the namespace goes with the thread (Probe). The caller's thread never changes namespace. If setup
// fails the bind mount stays: the caller removes path.
func Create(path string, setup func() error) error {
	if host.err != nil {
		return host.err
	}
	done := make(chan result, 1)
	// No switch in: a fresh goroutine's thread is in the host namespace
	// already (every thread this package hands back is), and switching to
	// it would need the privilege that a probe is testing for.
	go run(unshareNet, func() error {
		if path == "" {
			return nil // a probe: nothing to keep
		}
		if err := unix.Mount(selfPath, path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind network namespace to %s: %w", path, err)
		}
		if setup == nil {
			return nil
		}
		return setup()
	}, func(r result) { done <- r })
	r := <-done
	if r.panicked {
		panic(r.value)
	}
	return r.err
}

// Probe reports whether this process may create network namespaces, by
// trying: it unshares a new one on a throwaway locked thread, which is then
// switched back (or destroyed). The error matches os.ErrPermission when the
// privilege is missing.
func Probe() error {
	return Create("", nil)
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

// Remember records that this process made the namespace open as fd and
// bound at path.
func Remember(fd int, path string) {
	if id, err := Fstat(fd); err == nil {
		uid, _ := UniqueID(fd)
		created.Store(id, Made{Path: path, UID: uid})
	}
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
