package capture

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// names resolves interface indexes of one namespace to names through an
// rtnetlink socket made inside it. The socket listens to link
// announcements, so an interface deleted before its packets are read is
// still named (its announcement came before its first packet); an index
// not announced (the socket overflowed) is asked for. Only the source's
// reader uses it once the source runs.
type names struct {
	fd  int
	m   map[int32]string
	seq uint32
	buf []byte
}

// open makes the socket, subscribed to link announcements. It runs inside
// the namespace.
func (n *names) open() error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("open rtnetlink: %w", os.NewSyscallError("socket", err))
	}
	n.fd = fd
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK}); err != nil {
		return fmt.Errorf("subscribe to link announcements: %w", err)
	}
	n.m = map[int32]string{}
	return nil
}

func (n *names) close() {
	if n.fd >= 0 {
		unix.Close(n.fd)
		n.fd = -1
	}
}

// lookup returns the name of interface idx: from the announcements, else
// by asking, else "ifIDX".
func (n *names) lookup(idx int32) string {
	if name, ok := n.m[idx]; ok {
		return name
	}
	n.read(-1)
	if name, ok := n.m[idx]; ok {
		return name
	}
	n.ask(idx)
	if name, ok := n.m[idx]; ok {
		return name
	}
	return "if" + strconv.Itoa(int(idx))
}

// ask requests link idx and reads until the answer (or an error, or a
// second) has come, noting every announcement on the way.
func (n *names) ask(idx int32) {
	n.seq++
	req := make([]byte, unix.SizeofNlMsghdr+unix.SizeofIfInfomsg)
	*(*unix.NlMsghdr)(unsafe.Pointer(&req[0])) = unix.NlMsghdr{
		Len: uint32(len(req)), Type: unix.RTM_GETLINK, Flags: unix.NLM_F_REQUEST, Seq: n.seq,
	}
	*(*unix.IfInfomsg)(unsafe.Pointer(&req[unix.SizeofNlMsghdr])) = unix.IfInfomsg{Family: unix.AF_UNSPEC, Index: idx}
	if err := unix.Sendto(n.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return
	}
	deadline := time.Now().Add(time.Second)
	for {
		wait := time.Until(deadline)
		if wait <= 0 {
			return
		}
		pfd := []unix.PollFd{{Fd: int32(n.fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, int(wait/time.Millisecond)+1); err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if n.read(int64(n.seq)) {
			return
		}
	}
}

// read reads what the socket holds without waiting, noting link names. It
// reports whether it saw the answer to request seq (-1: none asked).
func (n *names) read(seq int64) (answered bool) {
	if n.buf == nil {
		n.buf = make([]byte, 64<<10)
	}
	for {
		k, _, err := unix.Recvfrom(n.fd, n.buf, unix.MSG_DONTWAIT)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOBUFS) {
			continue // ENOBUFS: announcements were lost; ask then
		}
		if err != nil || k <= 0 {
			return answered
		}
		msgs, err := syscall.ParseNetlinkMessage(n.buf[:k])
		if err != nil {
			continue
		}
		for i := range msgs {
			m := &msgs[i]
			if int64(m.Header.Seq) == seq && m.Header.Type != unix.RTM_NEWLINK {
				answered = true // an error: no such link
			}
			if m.Header.Type != unix.RTM_NEWLINK || len(m.Data) < unix.SizeofIfInfomsg {
				continue
			}
			if int64(m.Header.Seq) == seq {
				answered = true
			}
			n.note(m)
		}
	}
}

// note records the name in an RTM_NEWLINK message.
func (n *names) note(m *syscall.NetlinkMessage) {
	idx := int32(ne.Uint32(m.Data[4:]))
	attrs, err := syscall.ParseNetlinkRouteAttr(m)
	if err != nil {
		return
	}
	for _, a := range attrs {
		if a.Attr.Type == unix.IFLA_IFNAME {
			name, _, _ := strings.Cut(string(a.Value), "\x00")
			n.m[idx] = name // renamed: the name when its first packet is read
			return
		}
	}
}
