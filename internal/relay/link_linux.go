package relay

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Counters count the frames of one direction since Start.
type Counters struct {
	Received   uint64 // frames read from the sending side
	Passed     uint64 // frames written to the receiving side, duplicates included
	Lost       uint64 // dropped by Loss
	Overflow   uint64 // dropped because Limit frames were held already
	Missed     uint64 // dropped by the kernel before the relay read them (socket buffer full, too big)
	Unsent     uint64 // held, then dropped: flushed (link down) or refused by the receiving side
	Duplicated uint64 // extra copies sent
	Reordered  uint64 // frames that overtook one held already (early, or jittered less)
	Corrupted  uint64 // frames with a bit flipped
	Queued     int    // frames held now
}

// Link relays frames both ways between two Ports: direction 0 carries
// what the first Port receives out of the second, direction 1 the
// reverse. Each direction has a reader, which decides the fate of each
// frame and sends at once what need not wait, and a scheduler, which
// sends the held frames when due. Its methods are safe for concurrent use.
type Link struct {
	ports [2]*Port
	dirs  [2]*direction
	wg    sync.WaitGroup
	once  sync.Once
}

// Start relays between a and b, which the Link then owns (Close closes
// them), the directions' decisions drawn from seeds (see DirectionSeed).
func Start(a, b *Port, seeds [2]uint64) (*Link, error) {
	l := &Link{ports: [2]*Port{a, b}}
	epoch := time.Now()
	for i := range l.dirs {
		t, err := newTimer()
		if err != nil {
			for _, d := range l.dirs[:i] {
				d.timer.close()
			}
			return nil, err
		}
		in := l.ports[i]
		l.dirs[i] = &direction{in: in, out: l.ports[1-i], timer: t, epoch: epoch,
			m: newModel(seeds[i]), pool: newPool(in.size())}
	}
	for _, d := range l.dirs {
		l.wg.Add(2)
		go func() { defer l.wg.Done(); d.read() }()
		go func() { defer l.wg.Done(); d.schedule() }()
	}
	return l, nil
}

// Set applies c to direction dir (0 or 1) from the next frame read on:
// frames held already keep their release times.
func (l *Link) Set(dir int, c Config) {
	d := l.dirs[dir]
	d.mu.Lock()
	d.m.set(c)
	d.mu.Unlock()
}

// Flush drops the frames held in both directions, as a link going down
// drops what its queues hold.
func (l *Link) Flush() {
	for _, d := range l.dirs {
		d.flush()
	}
}

// Counters returns direction dir's counters.
func (l *Link) Counters(dir int) Counters {
	d := l.dirs[dir]
	c := Counters{
		Received: d.c.received.Load(), Passed: d.c.passed.Load(), Lost: d.c.lost.Load(),
		Overflow: d.c.overflow.Load(), Missed: d.in.Missed() + d.c.missed.Load(), Unsent: d.c.unsent.Load(),
		Duplicated: d.c.duplicated.Load(), Reordered: d.c.reordered.Load(), Corrupted: d.c.corrupted.Load(),
	}
	d.mu.Lock()
	c.Queued = d.held
	d.mu.Unlock()
	return c
}

// Close stops the relay, closes both Ports and waits for its goroutines.
// Frames still held are dropped. It is idempotent.
func (l *Link) Close() error {
	var err error
	l.once.Do(func() {
		err = errors.Join(l.ports[0].Close(), l.ports[1].Close(), l.dirs[0].timer.close(), l.dirs[1].timer.close())
		l.wg.Wait()
		l.Flush()
	})
	return err
}

// direction is one way through a Link.
type direction struct {
	in, out *Port
	timer   *timer
	epoch   time.Time
	pool    *pool
	c       struct {
		received, passed, lost, overflow, missed, unsent, duplicated, reordered, corrupted atomic.Uint64
	}

	mu    sync.Mutex
	m     *model
	q     queue
	held  int    // frames in q or being sent by the scheduler
	busy  bool   // the scheduler is sending frames it took from q
	wire  int64  // with a rate: when the wire is free again
	seq   uint64 // frames read
	last  int64  // the latest release time given so far
	armed int64  // when the timer fires; 0: not armed
}

// now is the relay's clock: monotonic nanoseconds since Start.
func (d *direction) now() int64 { return int64(time.Since(d.epoch)) }

// slack is how early a held frame may go, to save a wakeup.
const slack = 20 * int64(time.Microsecond)

// read reads frames, decides their fate and either sends them at once or
// hands them to the scheduler, until the Port closes.
func (d *direction) read() {
	r := newRx(d.pool)
	var t tx
	for {
		n, err := d.in.recv(r)
		if d.in.closed.Load() {
			return
		}
		if err != nil { // ENETDOWN once after the interface went down, say
			time.Sleep(time.Millisecond)
			continue
		}
		t.n = 0
		d.mu.Lock()
		now := d.now()
		for i := range n {
			if r.bufs[i].n == 0 {
				d.c.missed.Add(1)
				continue
			}
			d.handle(r, i, now, &t)
		}
		d.mu.Unlock()
		if t.n > 0 {
			d.sendFast(&t)
		}
	}
}

// handle decides the fate of frame i of r, which arrived at now; frames
// that go at once are added to t. d.mu is held.
func (d *direction) handle(r *rx, i int, now int64, t *tx) {
	b := r.bufs[i]
	d.seq++
	d.c.received.Add(1)
	v := d.m.decide(b.frame())
	if v.lost {
		d.c.lost.Add(1)
		return
	}
	if v.flip > 0 {
		bit := v.flip - 1
		b.frame()[ethHeader+bit/8] ^= 1 << (bit % 8)
		d.c.corrupted.Add(1)
	}
	var dup *buf
	if v.dup {
		dup = d.pool.get()
		dup.off, dup.n = b.off, b.n
		copy(dup.b[b.off:b.off+b.n], b.frame())
		d.c.duplicated.Add(1)
	}
	cfg := &d.m.cfg
	if !cfg.holds() && len(d.q) == 0 && !d.busy {
		t.add(r.take(i))
		if dup != nil {
			t.add(dup)
		}
		return
	}
	d.hold(r.take(i), v, now)
	if dup != nil {
		d.hold(dup, v, now)
	}
}

// hold queues frame b, unless the queue is full. d.mu is held.
func (d *direction) hold(b *buf, v verdict, now int64) {
	cfg := &d.m.cfg
	if d.held >= cfg.limit() {
		d.c.overflow.Add(1)
		d.pool.put(b)
		return
	}
	at := now
	if cfg.Rate > 0 {
		d.wire = max(d.wire, now) + int64(uint64(b.n)*8*uint64(time.Second)/cfg.Rate)
		at = d.wire
	}
	e := entry{at: at + v.latency, seq: d.seq, buf: b}
	if e.at < d.last { // a frame held already goes later
		d.c.reordered.Add(1)
	}
	d.last = max(d.last, e.at)
	d.q.push(e)
	d.held++
	if d.armed == 0 || e.at < d.armed {
		d.armed = e.at
		d.timer.arm(e.at - now)
	}
}

// sendFast sends what read decided to send at once.
func (d *direction) sendFast(t *tx) {
	sent, failed, _ := d.out.send(t)
	d.c.passed.Add(uint64(sent))
	d.c.unsent.Add(uint64(failed))
	for i := range t.n {
		if b := t.bufs[i]; b != nil {
			d.pool.put(b)
			t.bufs[i] = nil
		}
	}
}

// schedule sends held frames when they are due, until the timer closes.
func (d *direction) schedule() {
	var t tx
	for {
		if err := d.timer.wait(); err != nil {
			return
		}
		d.mu.Lock()
		d.armed = 0
		d.mu.Unlock()
		for d.release(&t) {
		}
	}
}

// release sends a batch of the frames due and reports whether more are.
func (d *direction) release(t *tx) bool {
	d.mu.Lock()
	now := d.now()
	t.n = 0
	for len(d.q) > 0 && d.q[0].at <= now+slack && !t.full() {
		t.add(d.q.pop().buf)
	}
	more := len(d.q) > 0 && d.q[0].at <= now+slack
	if !more && len(d.q) > 0 && (d.armed == 0 || d.q[0].at < d.armed) {
		d.armed = d.q[0].at
		d.timer.arm(d.armed - now)
	}
	d.busy = t.n > 0
	d.mu.Unlock()
	if t.n == 0 {
		return false
	}
	n := t.n
	d.sendFast(t)
	d.mu.Lock()
	d.held -= n
	d.busy = false
	d.mu.Unlock()
	return more
}

// flush drops every held frame.
func (d *direction) flush() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.q) > 0 {
		e := d.q.pop()
		d.pool.put(e.buf)
		d.held--
		d.c.unsent.Add(1)
	}
	d.wire, d.last = 0, 0
}
