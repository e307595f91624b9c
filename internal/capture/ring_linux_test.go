package capture

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// ringPacket is a packet as the kernel lays it out in a TPACKET_V3 block.
type ringPacket struct {
	ifindex       int32
	hatype        uint16
	pkttype       uint8
	proto         uint16
	status        uint32
	vlanTCI       uint32
	vlanTPID      uint16
	linkHdr, data []byte // the link-layer header (may be empty) and the rest
	origLen       int
}

// ringBlock lays pkts out in a block as the kernel does: tpacket3_hdr,
// sockaddr_ll at TPACKET_ALIGN(sizeof hdr), data at tp_mac.
func ringBlock(pkts []ringPacket) []byte {
	b := make([]byte, minBlockSize)
	ne.PutUint32(b[blockStatus:], unix.TP_STATUS_USER)
	ne.PutUint32(b[blockNumPkts:], uint32(len(pkts)))
	off := 48 // after the block descriptor
	ne.PutUint32(b[blockFirstPkt:], uint32(off))
	for i, p := range pkts {
		h := b[off:]
		mac := 96
		ne.PutUint32(h[hdrSec:], 1700000000)
		ne.PutUint32(h[hdrNsec:], uint32(i))
		ne.PutUint32(h[hdrSnaplen:], uint32(len(p.linkHdr)+len(p.data)))
		ne.PutUint32(h[hdrLen:], uint32(p.origLen))
		ne.PutUint32(h[hdrStatus:], p.status)
		ne.PutUint16(h[hdrMac:], uint16(mac))
		ne.PutUint16(h[hdrNet:], uint16(mac+len(p.linkHdr)))
		ne.PutUint32(h[hdrVlanTCI:], p.vlanTCI)
		ne.PutUint16(h[hdrVlanTPID:], p.vlanTPID)
		sll := h[sllOffset:]
		binary.BigEndian.PutUint16(sll[sllProtocol:], p.proto)
		ne.PutUint32(sll[sllIfindex:], uint32(p.ifindex))
		ne.PutUint16(sll[sllHatype:], p.hatype)
		sll[sllPkttype] = p.pkttype
		n := copy(h[mac:], p.linkHdr)
		copy(h[mac+n:], p.data)
		next := (mac + n + len(p.data) + 15) &^ 15
		if i < len(pkts)-1 {
			ne.PutUint32(h, uint32(next))
		}
		off += next
	}
	return b
}

func TestBlockMakesEveryInterfaceEthernet(t *testing.T) {
	c, err := New(Config{Snaplen: 100})
	require.NoError(t, err)
	s := &source{c: c, label: "n", ids: map[int32]uint32{}, names: names{fd: -1, m: map[int32]string{2: "eth0", 3: "tun0"}}}

	eth := append(bytes.Repeat([]byte{0xaa}, 6), bytes.Repeat([]byte{0xbb}, 6)...)
	eth = append(eth, 0x08, 0x00)
	ip := bytes.Repeat([]byte{0x45}, 40)
	s.block(ringBlock([]ringPacket{
		// A VLAN tag the kernel took off goes back in.
		{ifindex: 2, hatype: unix.ARPHRD_ETHER, proto: 0x0800, linkHdr: eth, data: ip, origLen: 54,
			status: unix.TP_STATUS_USER | unix.TP_STATUS_VLAN_VALID | unix.TP_STATUS_VLAN_TPID_VALID, vlanTCI: 100, vlanTPID: 0x88a8},
		// No link-layer header (tun): a made-up Ethernet one.
		{ifindex: 3, hatype: unix.ARPHRD_NONE, proto: 0x86dd, data: ip, origLen: 40},
		// Outgoing on lo: left out (it comes in again).
		{ifindex: 1, hatype: unix.ARPHRD_LOOPBACK, pkttype: unix.PACKET_OUTGOING, proto: 0x0800, linkHdr: eth, data: ip, origLen: 54},
		// A link-layer header that is not Ethernet (a GRE device's): replaced.
		{ifindex: 4, hatype: unix.ARPHRD_IPGRE, proto: 0x0800, linkHdr: bytes.Repeat([]byte{0xee}, 24), data: ip, origLen: 64},
		// Longer than the snap length once tagged: cut to it.
		{ifindex: 2, hatype: unix.ARPHRD_ETHER, proto: 0x0800, linkHdr: eth, data: bytes.Repeat([]byte{1}, 86), origLen: 1500,
			status: unix.TP_STATUS_VLAN_VALID, vlanTCI: 7},
	}))
	var buf bytes.Buffer
	_, err = c.WriteTo(&buf)
	require.NoError(t, err)
	f, err := Read(&buf)
	require.NoError(t, err)
	assert.Equal(t, []string{"n/eth0", "n/tun0", "n/if4"}, f.Interfaces)
	require.Len(t, f.Packets, 4)

	tagged := append(append(append([]byte{}, eth[:12]...), 0x88, 0xa8, 0, 100), eth[12:]...)
	assert.Equal(t, append(tagged, ip...), f.Packets[0].Data)
	assert.Equal(t, 58, f.Packets[0].OrigLen)

	fake := append(make([]byte, 12), 0x86, 0xdd)
	assert.Equal(t, append(fake, ip...), f.Packets[1].Data)
	assert.Equal(t, 54, f.Packets[1].OrigLen)
	assert.Equal(t, 1, f.Packets[1].Interface)

	assert.Equal(t, append(append(make([]byte, 12), 0x08, 0x00), ip...), f.Packets[2].Data)
	assert.Equal(t, 54, f.Packets[2].OrigLen, "the GRE header replaced by 14 bytes")

	assert.Len(t, f.Packets[3].Data, 100)
	assert.Equal(t, []byte{0x81, 0x00, 0, 7}, f.Packets[3].Data[12:16], "802.1Q when the kernel gives no TPID")
	assert.Equal(t, 1504, f.Packets[3].OrigLen)
	assert.Equal(t, int64(1700000000_000000004), f.Packets[3].Time.UnixNano())
}
