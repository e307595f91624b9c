package relay

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batch is how many frames one recvmmsg or sendmmsg moves at most.
const batch = 64

// headroom is the room kept before each frame for a VLAN tag that the
// kernel took out of the frame (see recv).
const headroom = 4

// rcvbuf is the socket receive buffer asked for: a few thousand frames, so
// that a relay that is descheduled for a while under load does not lose
// any (the kernel drops what does not fit, see Counters.Missed).
const rcvbuf = 4 << 20

// Port is a packet socket bound to one interface, from which a relay reads
// the frames the interface receives and to which it writes the frames the
// interface should send. Its methods are safe for concurrent use.
type Port struct {
	f      *os.File
	rc     syscall.RawConn
	frame  int           // the largest frame accepted, VLAN tag included
	missed atomic.Uint64 // frames the kernel dropped, taken from PACKET_STATISTICS
	closed atomic.Bool
	once   sync.Once
}

// Open makes a Port on the interface with index ifindex and MTU mtu, in
// the calling thread's network namespace: call it inside Do. The socket
// sees no frame before it is bound, so no other interface's frames, and
// never its own writes (PACKET_IGNORE_OUTGOING, Linux 4.20). It needs
// CAP_NET_RAW in the namespace's user namespace.
func Open(ifindex, mtu int) (*Port, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open packet socket: %w", err)
	}
	if err := setup(fd, ifindex); err != nil {
		unix.Close(fd)
		return nil, err
	}
	f := os.NewFile(uintptr(fd), fmt.Sprintf("packet:%d", ifindex))
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &Port{f: f, rc: rc, frame: mtu + ethHeader + 4}, nil
}

func setup(fd, ifindex int) error {
	opts := []struct {
		level, opt, v int
		name          string
	}{
		{unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING"},
		{unix.SOL_PACKET, unix.PACKET_AUXDATA, 1, "PACKET_AUXDATA"},
		{unix.SOL_PACKET, unix.PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS"},
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.v); err != nil {
			return fmt.Errorf("set %s on packet socket: %w", o.name, err)
		}
	}
	// Beyond net.core.rmem_max only with CAP_NET_ADMIN in the initial user
	// namespace; rootless, the buffer is what rmem_max allows.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvbuf) != nil {
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvbuf)
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return fmt.Errorf("bind packet socket to interface %d: %w", ifindex, err)
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// Close closes the socket; a read or write waiting on it returns.
func (p *Port) Close() error {
	var err error
	p.once.Do(func() {
		p.closed.Store(true)
		err = p.f.Close()
	})
	return err
}

// Missed returns how many frames the kernel dropped because the socket's
// buffer was full, or because they were larger than the MTU allows.
func (p *Port) Missed() uint64 {
	_ = p.rc.Control(func(fd uintptr) {
		if st, err := unix.GetsockoptTpacketStats(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
			p.missed.Add(uint64(st.Drops))
		}
	})
	return p.missed.Load()
}

// size is the size of the buffers frames are read into.
func (p *Port) size() int { return headroom + p.frame }

const ctrlSize = 64 // room for one PACKET_AUXDATA message (40 bytes)

// rx is a batch of receive buffers for recvmmsg.
type rx struct {
	hdrs  [batch]unix.Mmsghdr
	iovs  [batch]unix.Iovec
	names [batch]unix.RawSockaddrLinklayer
	ctrl  [batch][ctrlSize]byte
	bufs  [batch]*buf
	pool  *pool
}

func newRx(p *pool) *rx {
	r := &rx{pool: p}
	for i := range r.bufs {
		r.bufs[i] = p.get()
	}
	return r
}

// take hands buffer i over to the caller; a new one replaces it.
func (r *rx) take(i int) *buf {
	b := r.bufs[i]
	r.bufs[i] = r.pool.get()
	return b
}

// recv reads up to a batch of frames, waiting for the first, and returns
// how many slots it filled: each slot's buffer holds a frame, or has n 0
// for a slot to skip (truncated, or one of our own).
func (p *Port) recv(r *rx) (int, error) {
	for i := range r.hdrs {
		b := r.bufs[i]
		r.iovs[i].Base = &b.b[headroom]
		r.iovs[i].SetLen(len(b.b) - headroom)
		h := &r.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Namelen = unix.SizeofSockaddrLinklayer
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
		h.Control = &r.ctrl[i][0]
		h.SetControllen(ctrlSize)
		h.Flags = 0
	}
	var n int
	var errno syscall.Errno
	err := p.rc.Read(func(fd uintptr) bool {
		m, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), batch, unix.MSG_DONTWAIT, 0, 0)
		if e == unix.EAGAIN || e == unix.EINTR {
			return false
		}
		n, errno = int(m), e
		return true
	})
	if err == nil && errno != 0 {
		err = os.NewSyscallError("recvmmsg", errno)
	}
	if err != nil {
		return 0, err
	}
	for i := range n {
		r.fill(i)
	}
	return n, nil
}

// fill sets slot i's buffer to its frame, putting back a VLAN tag that the
// kernel moved to the frame's metadata (it always does on receive), so that
// tagged frames cross the relay tagged.
func (r *rx) fill(i int) {
	b := r.bufs[i]
	b.off, b.n = headroom, int(r.hdrs[i].Len)
	if r.hdrs[i].Hdr.Flags&unix.MSG_TRUNC != 0 || r.names[i].Pkttype == unix.PACKET_OUTGOING || b.n < ethHeader {
		b.n = 0
		return
	}
	aux, ok := auxdata(r.ctrl[i][:r.hdrs[i].Hdr.Controllen])
	if !ok || aux.Status&unix.TP_STATUS_VLAN_VALID == 0 {
		return
	}
	tpid := uint16(0x8100)
	if aux.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
		tpid = aux.Vlan_tpid
	}
	copy(b.b[0:12], b.b[headroom:headroom+12])
	binary.BigEndian.PutUint16(b.b[12:], tpid)
	binary.BigEndian.PutUint16(b.b[14:], aux.Vlan_tci)
	b.off, b.n = 0, b.n+4
}

// auxdata finds the PACKET_AUXDATA message in a control buffer.
func auxdata(ctrl []byte) (unix.TpacketAuxdata, bool) {
	for len(ctrl) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&ctrl[0]))
		if h.Len < unix.SizeofCmsghdr || int(h.Len) > len(ctrl) {
			break
		}
		if h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA && int(h.Len) >= unix.CmsgLen(int(unsafe.Sizeof(unix.TpacketAuxdata{}))) {
			return *(*unix.TpacketAuxdata)(unsafe.Pointer(&ctrl[unix.CmsgLen(0)])), true
		}
		ctrl = ctrl[min(len(ctrl), unix.CmsgSpace(int(h.Len)-unix.CmsgLen(0))):]
	}
	return unix.TpacketAuxdata{}, false
}

// tx is a batch of frames for sendmmsg: a batch read, each perhaps
// duplicated.
type tx struct {
	hdrs [2 * batch]unix.Mmsghdr
	iovs [2 * batch]unix.Iovec
	bufs [2 * batch]*buf
	n    int
}

func (t *tx) add(b *buf) {
	t.bufs[t.n] = b
	t.n++
}

// full tells whether the scheduler has a batch to send.
func (t *tx) full() bool { return t.n >= batch }

// send writes the batch's frames in order and returns how many the kernel
// took; a frame it refuses (too big, interface down) is skipped and
// counted as failed.
func (p *Port) send(t *tx) (sent, failed int, err error) {
	for i := range t.n {
		f := t.bufs[i].frame()
		t.iovs[i].Base = &f[0]
		t.iovs[i].SetLen(len(f))
		t.hdrs[i].Hdr = unix.Msghdr{Iov: &t.iovs[i]}
		t.hdrs[i].Hdr.SetIovlen(1)
	}
	i := 0
	err = p.rc.Write(func(fd uintptr) bool {
		for i < t.n {
			m, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&t.hdrs[i])), uintptr(t.n-i), unix.MSG_DONTWAIT, 0, 0)
			switch {
			case e == unix.EAGAIN:
				return false
			case e == unix.EINTR:
			case e != 0:
				failed++
				i++ // the frame at i was refused
			default:
				sent += int(m)
				i += int(m)
			}
		}
		return true
	})
	if err != nil {
		failed += t.n - i
	}
	return sent, failed, err
}

// maxFree is how many spare buffers a pool keeps at most.
const maxFree = 1024

// pool recycles frame buffers of one size. Unlike a sync.Pool it keeps
// them across garbage collections: a relay that allocates a buffer per
// held frame makes the collector run, and its pauses show in the delays.
type pool struct {
	size int
	mu   sync.Mutex
	free []*buf
}

func newPool(size int) *pool { return &pool{size: size} }

func (p *pool) get() *buf {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return b
	}
	p.mu.Unlock()
	return &buf{b: make([]byte, p.size)}
}

func (p *pool) put(b *buf) {
	p.mu.Lock()
	if len(p.free) < maxFree {
		p.free = append(p.free, b)
	}
	p.mu.Unlock()
}
