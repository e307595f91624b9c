// Package relay forwards Ethernet frames between two interfaces in user
// space and impairs them on the way, one direction at a time: delay and
// jitter, loss (independent or in bursts), duplication, reordering,
// corruption, a rate and a queue limit. fixture uses it for emulated links,
// where the kernel's netem is missing or where a test needs what netem
// cannot give (reproducible decisions, per-direction counters).
//
// The decisions are reproducible: every random draw comes from a PCG
// generator seeded from one seed, the link, the direction and the flow (see
// flowKey), in the order the frames of that flow arrive. The same seed and
// the same frames give the same losses, duplicates, corruptions, early
// (reordered) frames and delays, whatever else crosses the link (ARP and
// IPv6 neighbour discovery come and go at times nobody controls, and are
// other flows). What is not reproducible is time: when the sender sends,
// and so whether a frame sent early or jittered actually overtakes another,
// which frames a full queue drops, and what the kernel drops before the
// relay reads.
package relay

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"time"
)

// DefaultLimit is the queue limit when Config.Limit is 0: netem's default.
const DefaultLimit = 1000

// Config is what a relay does to the frames of one direction. The zero
// Config passes every frame at once.
type Config struct {
	Delay     time.Duration // added to every frame
	Jitter    time.Duration // uniform in ±Jitter around Delay (never below 0); reorders, as netem's does
	Loss      float64       // probability that a frame is lost, 0 to 1 (the mean, with LossBurst)
	LossBurst float64       // mean run of consecutive losses (Gilbert model); at most 1: independent losses
	Duplicate float64       // probability that a frame is sent twice
	Reorder   float64       // probability that a frame skips Delay and Jitter (so overtakes); needs Delay
	Corrupt   float64       // probability that one bit past the Ethernet header is flipped
	Rate      uint64        // bits per second on the wire (frame length, serialised one after another); 0 unlimited
	Limit     int           // frames held at most (delayed or waiting for the rate); 0 is DefaultLimit
}

// Check reports a Config that cannot be applied.
func (c Config) Check() error {
	for _, p := range []struct {
		name string
		v    float64
	}{{"loss", c.Loss}, {"duplicate", c.Duplicate}, {"reorder", c.Reorder}, {"corrupt", c.Corrupt}} {
		if !(p.v >= 0 && p.v <= 1) {
			return fmt.Errorf("%s probability %v out of range 0..1", p.name, p.v)
		}
	}
	switch {
	case c.Delay < 0 || c.Jitter < 0:
		return fmt.Errorf("negative delay or jitter")
	case c.Limit < 0:
		return fmt.Errorf("negative queue limit %d", c.Limit)
	case !(c.LossBurst >= 0) || math.IsInf(c.LossBurst, 0):
		return fmt.Errorf("loss burst %v: want a mean run length of 1 or more (0: independent losses)", c.LossBurst)
	case c.LossBurst > 1 && c.Loss < 1 && c.Loss > c.LossBurst/(c.LossBurst+1):
		return fmt.Errorf("loss %.4g%% in runs of %.4g on average is impossible: with that run length, at most %.4g%%",
			100*c.Loss, c.LossBurst, 100*c.LossBurst/(c.LossBurst+1))
	}
	return nil
}

// holds tells whether frames wait in the queue (delay or rate); otherwise
// each is decided and sent at once.
func (c Config) holds() bool { return c.Delay > 0 || c.Jitter > 0 || c.Rate > 0 }

// random tells whether frames need random draws.
func (c Config) random() bool {
	return c.Loss > 0 || c.Duplicate > 0 || c.Corrupt > 0 || c.Jitter > 0 || (c.Reorder > 0 && c.Delay > 0)
}

func (c Config) limit() int {
	if c.Limit == 0 {
		return DefaultLimit
	}
	return c.Limit
}

// verdict is what happens to one frame.
type verdict struct {
	lost    bool
	dup     bool
	flip    int   // bit to flip, counted from the first byte past the Ethernet header, plus 1; 0: none
	early   bool  // skips Delay and Jitter (Reorder)
	latency int64 // ns of Delay and Jitter
}

// flow is the random state of one flow in one direction.
type flow struct {
	rng rand.PCG
	bad bool // Gilbert model: in a run of losses
}

// maxFlows bounds the flows a direction tracks; past it they start afresh
// (reproducibility then needs the same frames on every flow).
const maxFlows = 1 << 16

// model makes the random decisions of one direction.
type model struct {
	cfg   Config
	p, r  float64 // Gilbert transitions: good to bad, bad to good
	seed  uint64  // of this direction (see directionSeed)
	flows map[uint64]*flow
}

func newModel(seed uint64) *model { return &model{seed: seed, flows: map[uint64]*flow{}} }

// set applies c from the next frame on; the flows keep their generators.
func (m *model) set(c Config) {
	m.cfg, m.p, m.r = c, 0, 0
	if c.LossBurst > 1 && c.Loss > 0 && c.Loss < 1 {
		m.r = 1 / c.LossBurst
		m.p = c.Loss * m.r / (1 - c.Loss)
	}
}

// decide draws the fate of a frame: a fixed number of draws for a given
// Config and outcome, all from the frame's flow, so that the same frames of
// a flow meet the same fate whatever comes between them.
func (m *model) decide(frame []byte) verdict {
	c := &m.cfg
	v := verdict{latency: int64(c.Delay)}
	if !c.random() {
		return v
	}
	fl := m.flow(frame)
	switch {
	case m.r > 0: // runs of losses
		u := fl.float()
		if fl.bad {
			fl.bad = u >= m.r
		} else {
			fl.bad = u < m.p
		}
		v.lost = fl.bad
	case c.Loss >= 1:
		v.lost = true
	case c.Loss > 0:
		v.lost = fl.float() < c.Loss
	}
	if v.lost {
		return v
	}
	if c.Duplicate > 0 {
		v.dup = fl.float() < c.Duplicate
	}
	if c.Corrupt > 0 && fl.float() < c.Corrupt && len(frame) > ethHeader {
		v.flip = 1 + int(fl.below(uint64(len(frame)-ethHeader)*8))
	}
	if c.Reorder > 0 && c.Delay > 0 {
		v.early = fl.float() < c.Reorder
	}
	if c.Jitter > 0 {
		j := int64(c.Jitter)
		v.latency = max(0, v.latency-j+int64(fl.below(uint64(2*j)+1)))
	}
	if v.early {
		v.latency = 0
	}
	return v
}

func (m *model) flow(frame []byte) *flow {
	k := flowKey(frame)
	fl := m.flows[k]
	if fl == nil {
		if len(m.flows) >= maxFlows {
			clear(m.flows)
		}
		fl = &flow{rng: *rand.NewPCG(m.seed, k)}
		m.flows[k] = fl
	}
	return fl
}

// float returns a uniform float64 in [0, 1).
func (f *flow) float() float64 { return float64(f.rng.Uint64()>>11) * 0x1p-53 }

// below returns a uniform integer in [0, n), n > 0.
func (f *flow) below(n uint64) uint64 {
	hi, _ := bits.Mul64(f.rng.Uint64(), n)
	return hi
}

const ethHeader = 14

// flowKey identifies the flow of a frame, deterministically across runs:
// for IPv4 and IPv6 the protocol and the two addresses (not the ports,
// which are often ephemeral), for anything else the EtherType. A VLAN tag
// counts as part of the flow.
func flowKey(frame []byte) uint64 {
	h := uint64(fnvOffset)
	if len(frame) < ethHeader {
		return h
	}
	typ := frame[12:14]
	l3 := frame[ethHeader:]
	if binary.BigEndian.Uint16(typ) == 0x8100 && len(frame) >= ethHeader+4 {
		h = fnv(h, frame[14:16]) // the tag's TCI
		typ, l3 = frame[16:18], frame[18:]
	}
	h = fnv(h, typ)
	switch binary.BigEndian.Uint16(typ) {
	case 0x0800:
		if len(l3) >= 20 {
			h = fnv(h, l3[9:10])
			h = fnv(h, l3[12:20])
		}
	case 0x86dd:
		if len(l3) >= 40 {
			h = fnv(h, l3[6:7])
			h = fnv(h, l3[8:40])
		}
	}
	return h
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnv(h uint64, b []byte) uint64 {
	for _, c := range b {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h
}

// DirectionSeed derives the seed of one direction of one link from the
// topology's seed, the link's name and the direction (0 or 1).
func DirectionSeed(seed uint64, link string, dir int) uint64 {
	h := fnv(fnvOffset, []byte(link))
	return splitmix(splitmix(seed^h) + uint64(dir))
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}
