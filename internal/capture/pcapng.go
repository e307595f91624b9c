package capture

import (
	"encoding/binary"
	"runtime"
)

// pcapng block types and options (draft-ietf-opsawg-pcapng).
const (
	blockSHB = 0x0A0D0D0A // section header
	blockIDB = 0x00000001 // interface description
	blockEPB = 0x00000006 // enhanced packet

	byteOrderMagic = 0x1A2B3C4D

	optEnd      = 0
	optComment  = 1
	shbOS       = 3
	shbUserappl = 4
	ifName      = 2
	ifDesc      = 3
	ifTsresol   = 9

	// linktypeEthernet is the link type of every interface block (see the
	// package doc for why there is only one).
	linktypeEthernet = 1

	// epbHeader is an enhanced packet block's size without its data:
	// type, length, interface id, timestamp (2 words), captured and
	// original length, and the trailing length.
	epbHeader = 32
)

// le is the byte order of the files we write; the section header's magic
// tells readers.
var le = binary.LittleEndian

// pad4 rounds n up to a multiple of 4, as pcapng aligns every field.
func pad4(n int) int { return (n + 3) &^ 3 }

// option is one pcapng option: a code and its value.
type option struct {
	code  uint16
	value []byte
}

// appendBlock appends a block of type typ whose body is body followed by
// opts, with the length fields and padding pcapng wants.
func appendBlock(b []byte, typ uint32, body []byte, opts []option) []byte {
	size := 12 + len(body)
	if len(opts) > 0 {
		for _, o := range opts {
			size += 4 + pad4(len(o.value))
		}
		size += 4 // opt_endofopt
	}
	b = le.AppendUint32(b, typ)
	b = le.AppendUint32(b, uint32(size))
	b = append(b, body...)
	if len(opts) > 0 {
		for _, o := range opts {
			b = le.AppendUint16(b, o.code)
			b = le.AppendUint16(b, uint16(len(o.value)))
			b = append(b, o.value...)
			b = append(b, make([]byte, pad4(len(o.value))-len(o.value))...)
		}
		b = le.AppendUint32(b, optEnd)
	}
	return le.AppendUint32(b, uint32(size))
}

// appendSHB appends a section header of unknown section length, with a
// comment for each of comments.
func appendSHB(b []byte, comments []string) []byte {
	body := le.AppendUint32(nil, byteOrderMagic)
	body = le.AppendUint16(body, 1) // version 1.0
	body = le.AppendUint16(body, 0)
	body = le.AppendUint64(body, ^uint64(0)) // section length: not given
	opts := []option{
		{shbOS, []byte(runtime.GOOS)},
		{shbUserappl, []byte("nsrun (github.com/nsrun/nsrun)")},
	}
	for _, c := range comments {
		opts = append(opts, option{optComment, []byte(c)})
	}
	return appendBlock(b, blockSHB, body, opts)
}

// appendIDB appends an interface description block for an Ethernet
// interface called name, with nanosecond timestamps.
func appendIDB(b []byte, name, desc string, snaplen int) []byte {
	body := le.AppendUint16(nil, linktypeEthernet)
	body = le.AppendUint16(body, 0)
	body = le.AppendUint32(body, uint32(snaplen))
	opts := []option{{ifName, []byte(name)}, {ifTsresol, []byte{9}}}
	if desc != "" {
		opts = append(opts, option{ifDesc, []byte(desc)})
	}
	return appendBlock(b, blockIDB, body, opts)
}

// epbSize is the size of an enhanced packet block holding caplen bytes.
func epbSize(caplen int) int { return epbHeader + pad4(caplen) }

// putEPB writes into dst, which must be epbSize(caplen) bytes, an enhanced
// packet block of interface ifid at ts (nanoseconds since the epoch) whose
// data are parts, caplen bytes in all, of a packet origLen bytes long.
func putEPB(dst []byte, ifid uint32, ts uint64, origLen int, caplen int, parts ...[]byte) {
	size := uint32(len(dst))
	le.PutUint32(dst[0:], blockEPB)
	le.PutUint32(dst[4:], size)
	le.PutUint32(dst[8:], ifid)
	le.PutUint32(dst[12:], uint32(ts>>32))
	le.PutUint32(dst[16:], uint32(ts))
	le.PutUint32(dst[20:], uint32(caplen))
	le.PutUint32(dst[24:], uint32(origLen))
	off := 28
	for _, p := range parts {
		off += copy(dst[off:28+caplen], p)
	}
	clear(dst[off : len(dst)-4]) // padding
	le.PutUint32(dst[len(dst)-4:], size)
}

// epbTime returns the timestamp of the enhanced packet block at the start
// of b.
func epbTime(b []byte) uint64 { return uint64(le.Uint32(b[12:]))<<32 | uint64(le.Uint32(b[16:])) }

// blockLen returns the length of the block at the start of b.
func blockLen(b []byte) int { return int(le.Uint32(b[4:])) }
