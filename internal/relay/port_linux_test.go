package relay

import (
	"encoding/binary"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"golang.org/x/sys/unix"
)

// TestVLANTag: a frame whose VLAN tag the kernel moved to PACKET_AUXDATA
// gets it back; others stay as read; truncated ones and our own are
// skipped.
func TestVLANTag(t *testing.T) {
	r := newRx(newPool(headroom + 1518))
	frame := udp4(1, 2, 7)
	put := func(i int, status uint32, tci, tpid uint16) {
		copy(r.bufs[i].b[headroom:], frame)
		r.hdrs[i].Len = uint32(len(frame))
		r.hdrs[i].Hdr.Flags = 0
		aux := unix.TpacketAuxdata{Status: status, Vlan_tci: tci, Vlan_tpid: tpid}
		h := (*unix.Cmsghdr)(unsafe.Pointer(&r.ctrl[i][0]))
		h.Level, h.Type = unix.SOL_PACKET, unix.PACKET_AUXDATA
		h.SetLen(unix.CmsgLen(int(unsafe.Sizeof(aux))))
		*(*unix.TpacketAuxdata)(unsafe.Pointer(&r.ctrl[i][unix.CmsgLen(0)])) = aux
		r.hdrs[i].Hdr.SetControllen(unix.CmsgSpace(int(unsafe.Sizeof(aux))))
	}
	put(0, unix.TP_STATUS_VLAN_VALID, 7, 0)
	put(1, unix.TP_STATUS_VLAN_VALID|unix.TP_STATUS_VLAN_TPID_VALID, 0x2009, 0x88a8)
	put(2, 0, 0, 0)
	put(3, 0, 0, 0)
	r.hdrs[3].Hdr.Flags = unix.MSG_TRUNC
	for i := range 4 {
		r.fill(i)
	}
	tagged := r.bufs[0].frame()
	assert.Len(t, tagged, len(frame)+4)
	assert.Equal(t, frame[:12], tagged[:12], "addresses")
	assert.Equal(t, uint16(0x8100), binary.BigEndian.Uint16(tagged[12:]))
	assert.Equal(t, uint16(7), binary.BigEndian.Uint16(tagged[14:]))
	assert.Equal(t, frame[12:], tagged[16:], "the rest")
	assert.Equal(t, []byte{0x88, 0xa8, 0x20, 0x09}, r.bufs[1].frame()[12:16])
	assert.Equal(t, frame, r.bufs[2].frame(), "untagged")
	assert.Zero(t, r.bufs[3].n, "truncated: skipped")
	assert.NotEqual(t, flowKey(frame), flowKey(tagged), "the tag is part of the flow")
}
