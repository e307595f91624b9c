package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Ring geometry. Each namespace's ring is ringBytes of kernel memory, in
// blocks big enough for one packet of the snap length; the kernel hands a
// block over when it is full or retireMillis after its first packet.
const (
	ringBytes    = 1 << 20
	minBlocks    = 4
	minBlockSize = 64 << 10
	frameSize    = 2048 // only checked by the kernel: TPACKET_V3 packs packets
	retireMillis = 10
	// flushWait bounds how long Remove waits for the kernel to hand over a
	// block it is still filling, so that the last packets are not lost.
	flushWait = 5*retireMillis*time.Millisecond + 20*time.Millisecond
)

// Offsets into a TPACKET_V3 block: struct tpacket_block_desc, whose
// tpacket_hdr_v1 starts at 8.
const (
	blockStatus   = 8
	blockNumPkts  = 12
	blockFirstPkt = 16
	// sllOffset is where struct sockaddr_ll follows each tpacket3_hdr:
	// TPACKET_ALIGN(sizeof(struct tpacket3_hdr)).
	sllOffset = (unix.SizeofTpacket3Hdr + unix.TPACKET_ALIGNMENT - 1) &^ (unix.TPACKET_ALIGNMENT - 1)
)

var ne = binary.NativeEndian

// source reads one namespace: its packet socket and ring, and its
// rtnetlink socket for interface names. Only its reader goroutine touches
// the ring and the maps once it runs.
type source struct {
	c       *Capture
	label   string
	fd      int // the packet socket until start, then f owns it
	f       *os.File
	rc      syscall.RawConn
	ring    []byte
	bsize   int // block size
	nblocks int
	cur     int // next block to read
	started bool
	names   names
	ids     map[int32]uint32 // ifindex -> interface id
	pkts    []packet         // scratch for one block
	// stopping asks the reader to finish; done is closed when it has.
	stopping atomic.Bool
	done     chan struct{}
}

// geometry returns the block size and count of a ring for snaplen.
func geometry(snaplen int) (bsize, nblocks int) {
	bsize = minBlockSize
	for bsize < snaplen+1024 { // a packet, its headers, the block's own
		bsize *= 2
	}
	return bsize, max(minBlocks, ringBytes/bsize)
}

// open makes the sockets and maps the ring. It runs inside the namespace.
// On error it closes what it made.
func (s *source) open(snaplen int) (err error) {
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	// Protocol 0: no packet arrives before bind, when the ring is ready.
	s.fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open packet socket: %w", os.NewSyscallError("socket", err))
	}
	if err := unix.SetsockoptInt(s.fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return fmt.Errorf("set TPACKET_V3: %w", err)
	}
	// "ret #snaplen": the kernel cuts each packet before copying it.
	prog := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: uint32(snaplen)}}
	if err := unix.SetsockoptSockFprog(s.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: 1, Filter: &prog[0]}); err != nil {
		return fmt.Errorf("attach snap length filter: %w", err)
	}
	s.bsize, s.nblocks = geometry(snaplen)
	req := unix.TpacketReq3{
		Block_size:     uint32(s.bsize),
		Block_nr:       uint32(s.nblocks),
		Frame_size:     frameSize,
		Frame_nr:       uint32(s.bsize / frameSize * s.nblocks),
		Retire_blk_tov: retireMillis,
	}
	if err := unix.SetsockoptTpacketReq3(s.fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return fmt.Errorf("set up packet ring: %w", err)
	}
	s.ring, err = unix.Mmap(s.fd, 0, s.bsize*s.nblocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("map packet ring: %w", err)
	}
	// Interface names: follow announcements from before the first packet.
	if err := s.names.open(); err != nil {
		return err
	}
	// ifindex 0: every interface of the namespace, those made later too.
	if err := unix.Bind(s.fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL)}); err != nil {
		return fmt.Errorf("bind packet socket: %w", err)
	}
	return nil
}

// start hands the packet socket to the Go runtime's poller.
func (s *source) start() error {
	s.f = os.NewFile(uintptr(s.fd), "packet:"+s.label)
	s.fd = -1
	rc, err := s.f.SyscallConn()
	if err != nil {
		return err
	}
	s.rc = rc
	s.ids = map[int32]uint32{}
	return nil
}

// close releases the sockets and the ring; the reader must be done.
func (s *source) close() {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	if s.fd >= 0 {
		unix.Close(s.fd)
		s.fd = -1
	}
	if s.ring != nil {
		unix.Munmap(s.ring)
		s.ring = nil
	}
	s.names.close()
}

// stop asks the reader to finish and wakes it; it returns s.
func (s *source) stop() *source {
	s.stopping.Store(true)
	if err := s.f.SetReadDeadline(time.Now()); err != nil {
		s.f.Close() // not pollable after all: wake it the hard way
	}
	return s
}

// kernelDrops returns the packets the kernel dropped for this socket (and
// resets the kernel's count).
func (s *source) kernelDrops() uint64 {
	var n uint64
	if s.rc != nil {
		s.rc.Control(func(fd uintptr) {
			if st, err := unix.GetsockoptTpacketStatsV3(int(fd), unix.SOL_PACKET, unix.PACKET_STATISTICS); err == nil {
				n = uint64(st.Drops)
			}
		})
	}
	return n
}

// run is the reader: it drains blocks as the kernel hands them over, until
// stop; then it waits (at most flushWait) for the block being filled, so
// that the packets just before the stop are kept.
func (s *source) run() {
	defer close(s.done)
	for !s.stopping.Load() {
		err := s.rc.Read(func(uintptr) bool {
			s.drain()
			return s.stopping.Load()
		})
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return // closed
		}
	}
	until := time.Now().Add(flushWait)
	for s.pending() && time.Now().Before(until) {
		if s.f.SetReadDeadline(until) != nil {
			break
		}
		err := s.rc.Read(func(uintptr) bool {
			s.drain()
			return !s.pending()
		})
		if err != nil {
			break
		}
	}
	s.drain()
}

// status returns a pointer to block i's status word, which the kernel and
// the reader hand back and forth.
func (s *source) status(i int) *uint32 {
	return (*uint32)(unsafe.Pointer(&s.ring[i*s.bsize+blockStatus]))
}

// pending reports whether the kernel is filling the next block with
// packets it has not handed over yet.
func (s *source) pending() bool {
	if atomic.LoadUint32(s.status(s.cur))&unix.TP_STATUS_USER != 0 {
		return true // handed over, not read yet
	}
	n := (*uint32)(unsafe.Pointer(&s.ring[s.cur*s.bsize+blockNumPkts]))
	return atomic.LoadUint32(n) > 0
}

// drain reads every block the kernel has handed over, in ring order, and
// hands each back.
func (s *source) drain() {
	for {
		st := s.status(s.cur)
		if atomic.LoadUint32(st)&unix.TP_STATUS_USER == 0 {
			return
		}
		b := s.ring[s.cur*s.bsize : (s.cur+1)*s.bsize]
		s.block(b)
		atomic.StoreUint32(st, unix.TP_STATUS_KERNEL)
		s.cur = (s.cur + 1) % s.nblocks
	}
}

// block stores the packets of one block.
func (s *source) block(b []byte) {
	n := int(ne.Uint32(b[blockNumPkts:]))
	off := int(ne.Uint32(b[blockFirstPkt:]))
	pkts := s.pkts[:0]
	for range n {
		if off <= 0 || off+sllOffset+unix.SizeofSockaddrLinklayer > len(b) {
			break // never, unless the kernel's format changes
		}
		if p, ok := s.parse(b, off); ok {
			pkts = append(pkts, p)
		}
		next := int(ne.Uint32(b[off:]))
		if next == 0 {
			break
		}
		off += next
	}
	s.c.store(pkts)
	clear(pkts) // let go of the ring
	s.pkts = pkts[:0]
}

// packet is one packet of a ring block, ready to store.
type packet struct {
	id      uint32
	ts      uint64
	origLen int
	caplen  int
	parts   [3][]byte
}

// Fields of struct tpacket3_hdr and struct sockaddr_ll used below.
const (
	hdrSec, hdrNsec, hdrSnaplen, hdrLen, hdrStatus, hdrMac, hdrNet = 4, 8, 12, 16, 20, 24, 26
	hdrVlanTCI, hdrVlanTPID                                        = 32, 36
	sllProtocol, sllIfindex, sllHatype, sllPkttype                 = 2, 4, 8, 10
)

// parse reads the packet whose tpacket3_hdr is at b[off:].
func (s *source) parse(b []byte, off int) (packet, bool) {
	h := b[off:]
	sll := h[sllOffset:]
	ifindex := int32(ne.Uint32(sll[sllIfindex:]))
	hatype := ne.Uint16(sll[sllHatype:])
	if sll[sllPkttype] == unix.PACKET_OUTGOING && hatype == unix.ARPHRD_LOOPBACK {
		return packet{}, false // seen again as it comes in
	}
	mac, netOff := int(ne.Uint16(h[hdrMac:])), int(ne.Uint16(h[hdrNet:]))
	snap, length := int(ne.Uint32(h[hdrSnaplen:])), int(ne.Uint32(h[hdrLen:]))
	if mac+snap > len(h) || netOff < mac {
		return packet{}, false
	}
	data := h[mac : mac+snap]
	p := packet{
		id:      s.ifaceID(ifindex),
		ts:      uint64(ne.Uint32(h[hdrSec:]))*1e9 + uint64(ne.Uint32(h[hdrNsec:])),
		origLen: length,
	}
	status := ne.Uint32(h[hdrStatus:])
	switch {
	case hatype != unix.ARPHRD_ETHER && hatype != unix.ARPHRD_LOOPBACK:
		// No Ethernet header: make one up, with the packet's protocol.
		var eth [14]byte
		copy(eth[12:], sll[sllProtocol:sllProtocol+2]) // network order already
		hl := min(netOff-mac, len(data))
		p.parts = [3][]byte{eth[:], data[hl:]}
		p.origLen += 14 - hl
	case status&unix.TP_STATUS_VLAN_VALID != 0 && len(data) >= 12:
		// The tag the kernel took off, back between the addresses and
		// the EtherType.
		tpid := uint16(unix.ETH_P_8021Q)
		if status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
			tpid = ne.Uint16(h[hdrVlanTPID:])
		}
		var tag [4]byte
		binary.BigEndian.PutUint16(tag[0:], tpid)
		binary.BigEndian.PutUint16(tag[2:], uint16(ne.Uint32(h[hdrVlanTCI:])))
		p.parts = [3][]byte{data[:12], tag[:], data[12:]}
		p.origLen += 4
	default:
		p.parts = [3][]byte{data}
	}
	for _, part := range p.parts {
		p.caplen += len(part)
	}
	p.caplen = min(p.caplen, s.c.cfg.Snaplen)
	return p, true
}

// ifaceID returns the capture's id for the interface with this index.
func (s *source) ifaceID(ifindex int32) uint32 {
	if id, ok := s.ids[ifindex]; ok {
		return id
	}
	name := s.names.lookup(ifindex)
	id := s.c.iface(s.label+"/"+name, fmt.Sprintf("interface %s (index %d) of network namespace %s", name, ifindex, s.label))
	s.ids[ifindex] = id
	return id
}

// store encodes pkts into the capture's memory.
func (c *Capture) store(pkts []packet) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range pkts {
		p := &pkts[i]
		dst := c.st.alloc(epbSize(p.caplen))
		putEPB(dst, p.id, p.ts, p.origLen, p.caplen, p.parts[:]...)
	}
}

// htons returns v in network byte order, as sockaddr_ll wants it.
func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return ne.Uint16(b[:])
}
