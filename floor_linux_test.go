package nsrun_test

import (
	"errors"
	"runtime"

	"github.com/nsrun/nsrun/internal/nsthread"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The functions in this file are the floor that benchmarks compare the
// library with: the bare syscalls, on the calling goroutine, with no
// validation, verification, records or cleanup guarantees. They are test
// code, so they may switch threads themselves (production code leaves that
// to internal/nsthread).

var hostNetns = func() int {
	fd, err := unix.Open("/proc/self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}()

// floorCreate makes a namespace bound on path (which must not exist) with
// lo up: open(O_EXCL), unshare, bind mount, one rtnetlink request, setns back.
func floorCreate(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	unix.Close(fd)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer unix.Setns(hostNetns, unix.CLONE_NEWNET)
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return err
	}
	if err := unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, ""); err != nil {
		return err
	}
	return nsthread.LoopbackUp()
}

// floorCreateWith is floorCreate that also keeps an fd of the namespace,
// taken inside before it is named, and calls before(fd) then, as New does
// with its open-watch. The caller closes the fd.
func floorCreateWith(path string, before func(fd int)) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	unix.Close(fd)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer unix.Setns(hostNetns, unix.CLONE_NEWNET)
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return -1, err
	}
	if fd, err = unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		return -1, err
	}
	before(fd)
	if err := unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, ""); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nsthread.LoopbackUp()
}

// floorDelete removes what floorCreate made: umount2(MNT_DETACH), unlink.
func floorDelete(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
		return err
	}
	return unix.Unlink(path)
}

// floorSetnsPair switches the locked calling thread into fd and back: the
// two bare setns calls that Do wraps.
func floorSetnsPair(fd int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return err
	}
	return unix.Setns(hostNetns, unix.CLONE_NEWNET)
}

// The vishvananda rows: what a user of github.com/vishvananda/netns and
// netlink writes for the same job, on a locked thread that is switched back
// (left locked, so that it dies, if that fails). NewNamed and DeleteNamed
// know only /run/netns.
const vishDir = "/run/netns"

// errTainted reports a thread that could not be switched back; the caller
// has left it locked.
var errTainted = errors.New("switch back failed: thread left locked")

// vishCreateDelete is netns.NewNamed, netlink.LinkSetUp of lo,
// netns.Set back, netns.DeleteNamed.
func vishCreateDelete(name string) error {
	runtime.LockOSThread()
	origin, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer origin.Close()
	ns, err := netns.NewNamed(name)
	if err == nil {
		ns.Close()
		var lo netlink.Link
		if lo, err = netlink.LinkByName("lo"); err == nil {
			err = netlink.LinkSetUp(lo)
		}
	}
	if serr := netns.Set(origin); serr != nil {
		return errors.Join(err, serr, errTainted)
	}
	runtime.UnlockOSThread()
	if err != nil {
		return err
	}
	return netns.DeleteNamed(name)
}

// vishGetSetSet is what Do does, with vishvananda/netns: netns.Get of
// the thread's namespace, netns.Set into fd and back.
func vishGetSetSet(fd int) error {
	runtime.LockOSThread()
	origin, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer origin.Close()
	err = netns.Set(netns.NsHandle(fd))
	if serr := netns.Set(origin); serr != nil {
		return errors.Join(err, serr, errTainted)
	}
	runtime.UnlockOSThread()
	return err
}

// current returns the calling thread's network namespace.
func current() (nsthread.ID, error) { return nsthread.Stat("/proc/thread-self/ns/net") }
