package capture

// store keeps encoded packet blocks in memory, in chunks whose total size
// stays under a limit: when a new chunk would pass it, the oldest chunks
// go, and their packets count as dropped. Chunks are append-only and never
// reused, so a snapshot (their slices, taken under the caller's lock) stays
// valid while more packets are added. A store is not safe for concurrent
// use: Capture guards it.
type store struct {
	limit    int64 // bytes of chunks, at most
	maxChunk int   // size of the largest chunks
	next     int   // size of the next chunk: they start small and double
	chunks   []chunk
	size     int64  // bytes of chunks held (their capacity)
	packets  uint64 // held
	dropped  uint64 // dropped over the limit
}

// chunk is a run of encoded blocks.
type chunk struct {
	buf     []byte
	packets int
}

// firstChunk is the size of a store's first chunk, so that a capture that
// sees little traffic holds little memory.
const firstChunk = 64 << 10

// newStore returns a store of at most limit bytes that can hold blocks up
// to maxBlock bytes; limit must be at least 2*maxBlock.
func newStore(limit int64, maxBlock int) store {
	maxChunk := int(min(limit/16, 4<<20))
	maxChunk = max(maxChunk, maxBlock)
	return store{limit: limit, maxChunk: maxChunk, next: max(min(firstChunk, maxChunk), maxBlock)}
}

// alloc returns size bytes at the end of the store for one block, making
// room by dropping the oldest chunks if need be.
func (s *store) alloc(size int) []byte {
	if n := len(s.chunks); n == 0 || cap(s.chunks[n-1].buf)-len(s.chunks[n-1].buf) < size {
		csize := s.next
		for len(s.chunks) > 0 && s.size+int64(csize) > s.limit {
			old := s.chunks[0]
			s.chunks[0] = chunk{}
			s.chunks = s.chunks[1:]
			s.size -= int64(cap(old.buf))
			s.packets -= uint64(old.packets)
			s.dropped += uint64(old.packets)
		}
		s.chunks = append(s.chunks, chunk{buf: make([]byte, 0, csize)})
		s.size += int64(csize)
		s.next = min(2*s.next, s.maxChunk)
	}
	c := &s.chunks[len(s.chunks)-1]
	n := len(c.buf)
	c.buf = c.buf[:n+size]
	c.packets++
	s.packets++
	return c.buf[n : n+size : n+size]
}

// snapshot returns the chunks' contents as they are now.
func (s *store) snapshot() [][]byte {
	out := make([][]byte, len(s.chunks))
	for i, c := range s.chunks {
		out[i] = c.buf[:len(c.buf):len(c.buf)]
	}
	return out
}
