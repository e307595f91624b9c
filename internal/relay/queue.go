package relay

// buf holds one frame: b[off:off+n], with room before it for a VLAN tag.
type buf struct {
	b      []byte
	off, n int
}

func (b *buf) frame() []byte { return b.b[b.off : b.off+b.n] }

// entry is a frame waiting for its release time.
type entry struct {
	at  int64  // release time on the relay's clock, ns
	seq uint64 // arrival order, which breaks ties
	buf *buf
}

func (e entry) before(o entry) bool { return e.at < o.at || e.at == o.at && e.seq < o.seq }

// queue is a binary min-heap of entries by release time, then arrival.
type queue []entry

func (q *queue) push(e entry) {
	*q = append(*q, e)
	h := *q
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !h[i].before(h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *queue) pop() entry {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = entry{}
	h = h[:last]
	for i := 0; ; {
		l, s := 2*i+1, i
		if l < len(h) && h[l].before(h[s]) {
			s = l
		}
		if r := l + 1; r < len(h) && h[r].before(h[s]) {
			s = r
		}
		if s == i {
			break
		}
		h[i], h[s] = h[s], h[i]
		i = s
	}
	*q = h
	return top
}
