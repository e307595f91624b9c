package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// File is a pcapng file as Read found it: enough to check what a capture
// wrote (tests do) without tcpdump.
type File struct {
	Comments   []string // of the section header
	Interfaces []string // if_name of each interface, by id
	Packets    []Packet
}

// Packet is one enhanced packet block.
type Packet struct {
	Interface int
	Time      time.Time
	Data      []byte
	OrigLen   int
}

// Read reads a pcapng file of one section written in either byte order,
// with nanosecond or microsecond timestamps (if_tsresol 9 or absent). It
// checks every block's framing and returns an error for what it cannot
// read.
func Read(r io.Reader) (*File, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(b) < 28 || le.Uint32(b) != blockSHB {
		return nil, errors.New("pcapng: no section header")
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if binary.BigEndian.Uint32(b[8:]) == byteOrderMagic {
		bo = binary.BigEndian
	}
	f := &File{}
	var resol []uint64 // units per second, by interface
	for off := 0; off < len(b); {
		if len(b)-off < 12 {
			return nil, fmt.Errorf("pcapng: truncated block at %d", off)
		}
		typ, size := bo.Uint32(b[off:]), int(bo.Uint32(b[off+4:]))
		if size < 12 || size%4 != 0 || off+size > len(b) || int(bo.Uint32(b[off+size-4:])) != size {
			return nil, fmt.Errorf("pcapng: bad block length %d at %d", size, off)
		}
		body := b[off+8 : off+size-4]
		switch typ {
		case blockSHB:
			if off != 0 {
				return nil, errors.New("pcapng: more than one section")
			}
			for _, o := range options(bo, body[16:]) {
				if o.code == optComment {
					f.Comments = append(f.Comments, string(o.value))
				}
			}
		case blockIDB:
			name, units := "", uint64(1e6)
			for _, o := range options(bo, body[8:]) {
				switch {
				case o.code == ifName:
					name = string(o.value)
				case o.code == ifTsresol && len(o.value) == 1 && o.value[0] == 9:
					units = 1e9
				}
			}
			f.Interfaces = append(f.Interfaces, name)
			resol = append(resol, units)
		case blockEPB:
			id := int(bo.Uint32(body))
			if id >= len(resol) || len(body) < 20 {
				return nil, fmt.Errorf("pcapng: packet of unknown interface %d at %d", id, off)
			}
			ts := uint64(bo.Uint32(body[4:]))<<32 | uint64(bo.Uint32(body[8:]))
			caplen := int(bo.Uint32(body[12:]))
			if 20+caplen > len(body) {
				return nil, fmt.Errorf("pcapng: packet longer than its block at %d", off)
			}
			u := resol[id]
			f.Packets = append(f.Packets, Packet{
				Interface: id,
				Time:      time.Unix(int64(ts/u), int64(ts%u*(1e9/u))),
				Data:      body[20 : 20+caplen],
				OrigLen:   int(bo.Uint32(body[16:])),
			})
		}
		off += size
	}
	return f, nil
}

// options parses pcapng options up to opt_endofopt.
func options(bo binary.ByteOrder, b []byte) []option {
	var out []option
	for len(b) >= 4 {
		code, n := bo.Uint16(b), int(bo.Uint16(b[2:]))
		if code == optEnd || 4+n > len(b) {
			break
		}
		out = append(out, option{code, b[4 : 4+n]})
		b = b[min(len(b), 4+pad4(n)):]
	}
	return out
}
