//go:build linux

// Package rawnl is the benchmark's bare rtnetlink: what the raw-syscall
// contenders and the Go floor of nsrun -- true send, with nothing of a
// netlink library in the way.
package rawnl

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// LoopbackUp sends one RTM_NEWLINK (index 1, IFF_UP) on a fresh
// rtnetlink socket of the calling thread's namespace and reads the ack.
func LoopbackUp() error {
	s, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return err
	}
	defer unix.Close(s)
	const size = unix.SizeofNlMsghdr + unix.SizeofIfInfomsg
	var b [size]byte
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], size)                              // nlmsg_len
	ne.PutUint16(b[4:], unix.RTM_NEWLINK)                  // nlmsg_type
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST|unix.NLM_F_ACK) // nlmsg_flags
	ne.PutUint32(b[8:], 1)                                 // nlmsg_seq
	ne.PutUint32(b[unix.SizeofNlMsghdr+4:], 1)             // ifi_index
	ne.PutUint32(b[unix.SizeofNlMsghdr+8:], unix.IFF_UP)   // ifi_flags
	ne.PutUint32(b[unix.SizeofNlMsghdr+12:], unix.IFF_UP)  // ifi_change
	if err := unix.Sendto(s, b[:], 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	var ack [256]byte
	n, _, err := unix.Recvfrom(s, ack[:], 0)
	if err != nil {
		return err
	}
	if n >= unix.SizeofNlMsghdr+4 {
		if e := int32(ne.Uint32(ack[unix.SizeofNlMsghdr:])); e != 0 {
			return unix.Errno(-e)
		}
	}
	return nil
}
