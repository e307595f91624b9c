package nsthread

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// The functions in this file are the floor that benchmarks compare the
// library with: the bare syscalls, on the calling goroutine, with no
// validation, verification, records or cleanup guarantees. Only benchmarks
// use them.

// FloorCreate makes a namespace bound on path (which must not exist) with
// lo up: open(O_EXCL), unshare, bind mount, one rtnetlink request, setns back.
func FloorCreate(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	unix.Close(fd)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer unix.Setns(host.fd, unix.CLONE_NEWNET)
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return err
	}
	if err := unix.Mount(SelfPath, path, "none", unix.MS_BIND, ""); err != nil {
		return err
	}
	return LoopbackUp()
}

// LoopbackUp sets link 1 (lo) of the calling thread's network namespace
// up, with one RTM_NEWLINK request on a throwaway rtnetlink socket.
func LoopbackUp() error {
	s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	const size = unix.SizeofNlMsghdr + unix.SizeofIfInfomsg
	var b [size]byte
	h := (*unix.NlMsghdr)(unsafePointer(&b[0]))
	*h = unix.NlMsghdr{Len: size, Type: unix.RTM_NEWLINK, Flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK, Seq: 1}
	ifi := (*unix.IfInfomsg)(unsafePointer(&b[unix.SizeofNlMsghdr]))
	*ifi = unix.IfInfomsg{Index: 1, Flags: unix.IFF_UP, Change: unix.IFF_UP}
	if err := unix.Sendto(s, b[:], 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	var ack [256]byte
	n, _, err := unix.Recvfrom(s, ack[:], 0)
	if err != nil {
		return err
	}
	if n >= unix.SizeofNlMsghdr+4 {
		if e := int32(nativeUint32(ack[unix.SizeofNlMsghdr:])); e != 0 {
			return unix.Errno(-e)
		}
	}
	return nil
}

// FloorDelete removes what FloorCreate made: umount2(MNT_DETACH), unlink.
func FloorDelete(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
		return err
	}
	return unix.Unlink(path)
}

// FloorSetnsPair switches the locked calling thread into fd and back: the
// two bare setns calls that Do wraps.
func FloorSetnsPair(fd int) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		return err
	}
	return unix.Setns(host.fd, unix.CLONE_NEWNET)
}
