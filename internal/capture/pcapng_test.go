package capture

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// addPacket stores a packet of n bytes (each byte b) on interface id at ts.
func addPacket(st *store, id uint32, ts uint64, n int, b byte) {
	data := bytes.Repeat([]byte{b}, n)
	putEPB(st.alloc(epbSize(n)), id, ts, n+10, n, data)
}

func TestWriteReadRoundTripInTimeOrder(t *testing.T) {
	st := newStore(MinLimit, maxBlock(DefaultSnaplen))
	// Two namespaces' packets, arrived out of time order.
	addPacket(&st, 0, 30, 5, 'c')
	addPacket(&st, 0, 10, 6, 'a')
	addPacket(&st, 1, 20, 7, 'b')
	addPacket(&st, 1, 10, 1, 'A') // same time as 'a': arrival order kept
	s := snapshot{
		comments: Stats{Packets: 4, Dropped: 2}.comments(Config{Snaplen: 100, Limit: MinLimit, Comment: "test X"}),
		ifaces:   []iface{{"client/eth0", "d"}, {"server/eth0", ""}},
		snaplen:  100,
		chunks:   st.snapshot(),
	}
	var buf bytes.Buffer
	n, err := s.writeTo(&buf)
	require.NoError(t, err)
	assert.Equal(t, int64(buf.Len()), n)

	f, err := Read(&buf)
	require.NoError(t, err)
	assert.Equal(t, []string{"client/eth0", "server/eth0"}, f.Interfaces)
	require.Len(t, f.Comments, 2)
	assert.Equal(t, "nsrun capture of test X: 4 packets, snap length 100, size limit 1 MiB", f.Comments[0])
	assert.Equal(t, "2 packets dropped: the oldest, to stay under the size limit of 1 MiB", f.Comments[1])
	var got []string
	for _, p := range f.Packets {
		got = append(got, fmt.Sprintf("%d@%d:%s/%d", p.Interface, p.Time.UnixNano(), p.Data, p.OrigLen))
	}
	assert.Equal(t, []string{"0@10:aaaaaa/16", "1@10:A/11", "1@20:bbbbbbb/17", "0@30:ccccc/15"}, got)
}

func TestStoreDropsOldestChunksUnderLimit(t *testing.T) {
	st := newStore(MinLimit, maxBlock(1500))
	const n = 10000 // about 15 MB of packets into 1 MiB
	for i := range n {
		addPacket(&st, 0, uint64(i), 1500, byte(i))
		require.LessOrEqual(t, st.size, int64(MinLimit))
	}
	assert.Equal(t, uint64(n), st.packets+st.dropped)
	assert.NotZero(t, st.dropped)
	// What is left is the newest packets, in order, and all of them.
	var buf bytes.Buffer
	s := snapshot{ifaces: []iface{{"a/eth0", ""}}, snaplen: 1500, chunks: st.snapshot()}
	_, err := s.writeTo(&buf)
	require.NoError(t, err)
	assert.LessOrEqual(t, buf.Len(), MinLimit+4096, "the file stays about the limit")
	f, err := Read(&buf)
	require.NoError(t, err)
	require.Len(t, f.Packets, int(st.packets))
	assert.Equal(t, int64(n-1), f.Packets[len(f.Packets)-1].Time.UnixNano())
	assert.Equal(t, int64(st.dropped), f.Packets[0].Time.UnixNano())
}

func TestStoreSnapshotStaysValidWhileAdding(t *testing.T) {
	st := newStore(MinLimit, maxBlock(100))
	addPacket(&st, 0, 1, 100, 'x')
	snap := st.snapshot()
	for i := range 50000 { // drops the snapshot's chunk from the store
		addPacket(&st, 0, uint64(i+2), 100, 'y')
	}
	f, err := Read(bytes.NewReader(mustWrite(t, snapshot{ifaces: []iface{{"a/lo", ""}}, snaplen: 100, chunks: snap})))
	require.NoError(t, err)
	require.Len(t, f.Packets, 1)
	assert.Equal(t, bytes.Repeat([]byte("x"), 100), f.Packets[0].Data)
}

func mustWrite(t *testing.T, s snapshot) []byte {
	t.Helper()
	var buf bytes.Buffer
	_, err := s.writeTo(&buf)
	require.NoError(t, err)
	return buf.Bytes()
}

func TestConfigBounds(t *testing.T) {
	c, err := Config{}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, DefaultSnaplen, c.Snaplen)
	assert.Equal(t, int64(DefaultLimit), c.Limit)
	for _, bad := range []Config{{Snaplen: 10}, {Snaplen: MaxSnaplen + 1}, {Limit: 1000}} {
		_, err := bad.withDefaults()
		assert.Error(t, err, "%+v", bad)
	}
	// The largest snap length fits the smallest limit twice over.
	assert.LessOrEqual(t, 2*maxBlock(MaxSnaplen), MinLimit)
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1048576": 1 << 20, "64MiB": 64 << 20, "64M": 64 << 20, "64 MiB": 64 << 20,
		"2G": 2 << 30, "10KB": 10000, "5MB": 5000000, "7B": 7, "512KiB": 512 << 10,
	} {
		got, err := ParseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "x", "-1", "1.5M", "M", "99999999999G"} {
		_, err := ParseSize(bad)
		assert.Error(t, err, bad)
	}
	assert.Equal(t, "32 MiB", FormatSize(32<<20))
	assert.Equal(t, "1536 KiB", FormatSize(1536<<10))
	assert.Equal(t, "1000 bytes", FormatSize(1000))
}

func TestReadRejectsBrokenFiles(t *testing.T) {
	good := mustWrite(t, snapshot{ifaces: []iface{{"a/eth0", ""}}, snaplen: 100})
	for name, b := range map[string][]byte{
		"empty":      nil,
		"truncated":  good[:len(good)-3],
		"not pcapng": append([]byte{1, 2, 3, 4}, good[4:]...),
	} {
		_, err := Read(bytes.NewReader(b))
		assert.Error(t, err, name)
	}
	f, err := Read(bytes.NewReader(good))
	require.NoError(t, err)
	assert.Empty(t, f.Packets)
}
