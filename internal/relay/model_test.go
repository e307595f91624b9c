package relay

import (
	"encoding/binary"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// udp4 returns an Ethernet frame with an IPv4 UDP datagram from src to
// dst whose payload is the number i.
func udp4(src, dst byte, i int) []byte {
	f := make([]byte, 14+20+8+8)
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:]
	ip[0], ip[9] = 0x45, 17
	copy(ip[12:], []byte{10, 0, 0, src, 10, 0, 0, dst})
	binary.BigEndian.PutUint64(f[42:], uint64(i))
	return f
}

func arp() []byte {
	f := make([]byte, 42)
	binary.BigEndian.PutUint16(f[12:], 0x0806)
	return f
}

// run decides n frames of one flow, with an ARP frame after every k-th
// when k > 0, and returns the fates of the flow's frames.
func run(seed uint64, c Config, n, k int) []verdict {
	m := newModel(seed)
	m.set(c)
	var out []verdict
	for i := range n {
		out = append(out, m.decide(udp4(1, 2, i)))
		if k > 0 && i%k == 0 {
			m.decide(arp())
		}
	}
	return out
}

func TestDeterministic(t *testing.T) {
	c := Config{Loss: 0.1, Duplicate: 0.05, Corrupt: 0.05, Reorder: 0.1, Delay: time.Millisecond, Jitter: time.Millisecond}
	a := run(1, c, 1000, 0)
	assert.Equal(t, a, run(1, c, 1000, 0), "same seed, same fates")
	assert.Equal(t, a, run(1, c, 1000, 7), "other flows in between change nothing")
	assert.NotEqual(t, a, run(2, c, 1000, 0), "another seed, other fates")
	assert.NotEqual(t, DirectionSeed(1, "links[0]", 0), DirectionSeed(1, "links[0]", 1))
	assert.NotEqual(t, DirectionSeed(1, "links[0]", 0), DirectionSeed(1, "links[1]", 0))
	assert.NotEqual(t, flowKey(udp4(1, 2, 0)), flowKey(udp4(2, 1, 0)))
	assert.Equal(t, flowKey(udp4(1, 2, 0)), flowKey(udp4(1, 2, 5)), "the payload is not part of the flow")
}

func TestRates(t *testing.T) {
	const n = 200_000
	c := Config{Loss: 0.1, Duplicate: 0.05, Corrupt: 0.02, Reorder: 0.2, Delay: 10 * time.Millisecond, Jitter: 2 * time.Millisecond}
	var lost, dup, bad, early int
	var lat []int64
	for _, v := range run(7, c, n, 0) {
		switch {
		case v.lost:
			lost++
			continue
		case v.dup:
			dup++
		}
		if v.flip > 0 {
			bad++
			assert.Less(t, v.flip-1, (len(udp4(1, 2, 0))-ethHeader)*8, "a bit past the Ethernet header")
		}
		if v.early {
			early++
			assert.Zero(t, v.latency)
			continue
		}
		lat = append(lat, v.latency)
	}
	near := func(got int, of int, p float64) {
		t.Helper()
		assert.InDelta(t, p, float64(got)/float64(of), 0.01)
	}
	near(lost, n, 0.1)
	near(dup, n-lost, 0.05)
	near(bad, n-lost, 0.02)
	near(early, n-lost, 0.2)
	lo, hi, sum := int64(math.MaxInt64), int64(0), 0.0
	for _, l := range lat {
		lo, hi, sum = min(lo, l), max(hi, l), sum+float64(l)
	}
	assert.GreaterOrEqual(t, lo, int64(8*time.Millisecond))
	assert.LessOrEqual(t, hi, int64(12*time.Millisecond))
	assert.InDelta(t, float64(10*time.Millisecond), sum/float64(len(lat)), float64(100*time.Microsecond))
}

func TestLossBursts(t *testing.T) {
	const n = 400_000
	for _, burst := range []float64{2, 5} {
		c := Config{Loss: 0.1, LossBurst: burst}
		require.NoError(t, c.Check())
		var lost, runs, cur int
		for _, v := range run(3, c, n, 0) {
			if v.lost {
				lost++
				cur++
				continue
			}
			if cur > 0 {
				runs++
				cur = 0
			}
		}
		assert.InDelta(t, 0.1, float64(lost)/n, 0.01, "burst %v", burst)
		assert.InDelta(t, burst, float64(lost)/float64(runs), burst/10, "mean run")
	}
	assert.Error(t, Config{Loss: 0.9, LossBurst: 2}.Check(), "90%% in runs of 2 cannot be")
	assert.NoError(t, Config{Loss: 1, LossBurst: 2}.Check())
	assert.True(t, run(1, Config{Loss: 1, LossBurst: 3}, 10, 0)[9].lost)
}

func TestCheck(t *testing.T) {
	for _, c := range []Config{{Loss: -0.1}, {Duplicate: 1.5}, {Reorder: math.NaN()}, {Delay: -1}, {Limit: -1}, {LossBurst: -1}} {
		assert.Error(t, c.Check(), "%+v", c)
	}
	assert.NoError(t, Config{}.Check())
}

func TestQueueOrder(t *testing.T) {
	var q queue
	for i, at := range []int64{5, 3, 9, 3, 1, 7, 5} {
		q.push(entry{at: at, seq: uint64(i)})
	}
	var got [][2]int64
	for len(q) > 0 {
		e := q.pop()
		got = append(got, [2]int64{e.at, int64(e.seq)})
	}
	assert.Equal(t, [][2]int64{{1, 4}, {3, 1}, {3, 3}, {5, 0}, {5, 6}, {7, 5}, {9, 2}}, got)
}
