package capture

import (
	"bufio"
	"io"
	"slices"
)

// iface is an interface seen by a capture: its pcapng interface block.
type iface struct {
	name string // LABEL/IFNAME
	desc string
}

// snapshot is what a capture holds at one moment, ready to write.
type snapshot struct {
	comments []string
	ifaces   []iface
	snaplen  int
	chunks   [][]byte // encoded packet blocks, in arrival order
}

// blockRef locates one packet block of a snapshot.
type blockRef struct {
	ts    uint64
	chunk int32
	off   uint32
}

// writeTo writes s as one pcapng section: header, interface blocks, then the
// packet blocks in time order (packets of one namespace arrive in order, but
// those of different namespaces interleave by up to a ring block's delay).
func (s *snapshot) writeTo(w io.Writer) (int64, error) {
	var refs []blockRef
	for i, c := range s.chunks {
		for off := 0; off < len(c); off += blockLen(c[off:]) {
			refs = append(refs, blockRef{epbTime(c[off:]), int32(i), uint32(off)})
		}
	}
	slices.SortStableFunc(refs, func(a, b blockRef) int {
		switch {
		case a.ts < b.ts:
			return -1
		case a.ts > b.ts:
			return 1
		}
		return 0
	})
	cw := &countWriter{w: w}
	bw := bufio.NewWriterSize(cw, 256<<10)
	head := appendSHB(nil, s.comments)
	for _, f := range s.ifaces {
		head = appendIDB(head, f.name, f.desc, s.snaplen)
	}
	bw.Write(head)
	for _, r := range refs {
		c := s.chunks[r.chunk][r.off:]
		bw.Write(c[:blockLen(c)])
	}
	err := bw.Flush()
	return cw.n, err
}

// countWriter counts what it writes.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
