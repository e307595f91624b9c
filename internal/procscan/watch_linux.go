package procscan

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A process gets into a network namespace in one of three ways: it opens
// the namespace (its name in the ip netns directory, /proc/PID/ns/net or
// /proc/PID/task/TID/ns/net of a process inside, /proc/PID/fd/N of an fd to
// it, a socket's SIOCGSKNS, a pidfd's PIDFD_GET_NET_NAMESPACE,
// open_by_handle_at) and calls setns; it calls setns with the pidfd of a
// process already inside; or a thread inside forks it. Every open, however
// it is made, opens the one nsfs inode of the namespace, and an inotify
// watch on that inode reports each (IN_OPEN; checked on Linux 6.18 for each
// way above, see watch_linux_test.go). So a namespace that was watched from
// before it had a name, that nobody opened since, and in whose threads this
// process ran nothing that could fork has had no way in, and holds no
// process: Delete need not read /proc to find none.
//
// What the watch cannot see, so that whoever relies on it must rule it out
// in other ways: fds passed along without an open (SCM_RIGHTS, inheritance,
// pidfd_getfd), and setns into the namespace of a thread of this process
// through a pidfd of that thread while it runs inside.
//
// The inode must stay the same from the start of the watch: nsfs makes a
// new inode for a namespace whose last file and mount went, and a watch on
// the old one sees nothing. So a watch starts while an fd of the namespace
// is open (and the fd stays open while the watch matters).

// Watch is a watch for opens of one namespace. The zero Watch watches
// nothing, and Opened reports true for it.
type Watch struct {
	wd        int32  // inotify watch descriptor, 0: none
	overflows uint64 // queue overflows drained before the watch started
}

// watcher is the process's one inotify instance, shared by all watches,
// and what was drained from it. Its queue is read without blocking, by
// whoever wants to know, so no goroutine waits on it. Each watch is
// one-shot: the kernel removes it after its first open, so a namespace puts
// at most two events (IN_OPEN, IN_IGNORED) in the queue whatever happens to
// it.
var watcher struct {
	fd1  atomic.Int32 // its fd + 1; 0 until made
	init sync.Mutex   // held while making it

	// mu is held while draining: an event read from the queue is in opened
	// before anybody else can find the queue empty. It is held across one
	// non-blocking read only, never around another syscall.
	mu        sync.Mutex
	buf       [4096]byte
	opened    map[int32]bool // watch descriptors that reported an open
	overflows uint64         // IN_Q_OVERFLOW events drained
}

// inotifyFd returns the shared inotify instance, made on first use, or -1
// if it cannot be made now (the user's instance limit reached, say); a
// later call tries again.
func inotifyFd() int {
	if fd1 := watcher.fd1.Load(); fd1 > 0 {
		return int(fd1 - 1)
	}
	watcher.init.Lock()
	defer watcher.init.Unlock()
	if fd1 := watcher.fd1.Load(); fd1 > 0 {
		return int(fd1 - 1)
	}
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return -1
	}
	watcher.mu.Lock()
	watcher.opened = map[int32]bool{}
	watcher.mu.Unlock()
	watcher.fd1.Store(int32(fd) + 1)
	return fd
}

// StartWatch starts watching the namespace open as fd for opens, through
// fd itself so that the watch is on the inode fd pins. It returns the zero
// Watch if the namespace cannot be watched (no inotify instance, or the
// user's watch limit reached): then Opened reports true.
func StartWatch(fd int) Watch {
	ifd := inotifyFd()
	if ifd < 0 {
		return Watch{}
	}
	// Read before the watch exists: an overflow that could drop one of its
	// events is drained after this (see Opened).
	watcher.mu.Lock()
	overflows := watcher.overflows
	watcher.mu.Unlock()
	wd, err := unix.InotifyAddWatch(ifd, "/proc/self/fd/"+strconv.Itoa(fd), unix.IN_OPEN|unix.IN_ONESHOT)
	if err != nil || wd <= 0 {
		return Watch{}
	}
	return Watch{wd: int32(wd), overflows: overflows}
}

// Opened ends the watch and reports whether the namespace was opened while
// it lasted, or might have been: the zero Watch, and any watch that lived
// through a lost event (a queue overflow), report true. Opens that ended
// before Opened began are all reported. Call it once.
func (w Watch) Opened() bool {
	if w.wd == 0 {
		return true
	}
	// Remove the watch first (EINVAL if its one event removed it already):
	// after that no event for it joins the queue, but from an open running
	// at that very moment, whose opener has no fd yet (like an open begun
	// after Opened, too late for anybody to see). So the drain finds every
	// open that ended before, and leaves nothing of this watch in opened.
	unix.InotifyRmWatch(int(watcher.fd1.Load()-1), uint32(w.wd))
	watcher.mu.Lock()
	defer watcher.mu.Unlock()
	drainLocked()
	opened := watcher.opened[w.wd] || watcher.overflows != w.overflows
	delete(watcher.opened, w.wd)
	return opened
}

// drainLocked reads the queue until it is empty, noting each open.
func drainLocked() {
	for {
		n, err := unix.Read(int(watcher.fd1.Load()-1), watcher.buf[:])
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n <= 0 {
			return // EAGAIN: empty
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&watcher.buf[off]))
			switch {
			case ev.Mask&unix.IN_Q_OVERFLOW != 0:
				watcher.overflows++
			case ev.Mask&unix.IN_OPEN != 0:
				watcher.opened[ev.Wd] = true
			}
			off += unix.SizeofInotifyEvent + int(ev.Len)
		}
	}
}
