package nsthread

import "golang.org/x/sys/unix"

// LoopbackUp sets link 1 (lo) of the calling thread's network namespace
// up, with one RTM_NEWLINK request on a throwaway rtnetlink socket.
func LoopbackUp() error {
	s, err := routeSocket()
	if err != nil {
		return err
	}
	defer unix.Close(s)
	return loopbackUp(s)
}

// routeSocket opens an rtnetlink socket in the calling thread's namespace.
func routeSocket() (int, error) {
	return unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
}

// loopbackUp sets lo up through the rtnetlink socket s, in s's namespace.
func loopbackUp(s int) error {
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
