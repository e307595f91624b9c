package nsthread

import "sync/atomic"

// away records, by getm, the threads this package has moved out of the host
// namespace and not brought back: the threads of Do's and Go's functions
// while they run, of goroutines pinned by Enter, Join and Isolate, and
// those that could not come back. Do and Create run on their caller's
// thread, which they switch back to the host namespace afterwards; called
// from one of these threads (a Do inside a Do, say), they must not, and run
// on a fresh goroutine instead. Only the caller's own thread matters, and
// it was recorded, if at all, by its own goroutine, before.
//
// The record is a fixed set of slots, so that recording costs no lock and
// no allocation; a thread that finds no free slot counts in overflow,
// which makes every thread count as away until it is back (slower, never
// wrong).
var away struct {
	n        atomic.Int32 // recorded threads, in slots or overflow
	overflow atomic.Int32
	slots    [64]atomic.Uintptr
}

// markAway records that thread m is out of the host namespace, and returns
// what markHome needs.
func markAway(m uintptr) (slot int) {
	away.n.Add(1)
	for i := range away.slots {
		if away.slots[i].CompareAndSwap(0, m) {
			return i
		}
	}
	away.overflow.Add(1)
	return -1
}

// markHome records that the thread markAway gave slot for is back.
func markHome(slot int) {
	if slot < 0 {
		away.overflow.Add(-1)
	} else {
		away.slots[slot].Store(0)
	}
	away.n.Add(-1)
}

// isAway reports whether thread m may be out of the host namespace.
func isAway(m uintptr) bool {
	if away.n.Load() == 0 {
		return false
	}
	if away.overflow.Load() > 0 {
		return true
	}
	for i := range away.slots {
		if away.slots[i].Load() == m {
			return true
		}
	}
	return false
}
