package nsthread

// SabotageHost makes every switch back to the host namespace fail until the
// returned function is called, to test what happens to such a thread.
func SabotageHost() (undo func()) {
	fd := host.fd
	host.fd = -1
	return func() { host.fd = fd }
}

// SwapHost makes host.fd the namespace open as fd until the returned
// function is called: a switch back then succeeds, into the wrong
// namespace, which the verification must catch.
func SwapHost(fd int) (undo func()) {
	old := host.fd
	host.fd = fd
	return func() { host.fd = old }
}

// Away returns how many threads are recorded as away (see away).
func Away() int32 { return away.n.Load() }

// Thread returns the calling goroutine's thread, as away records it; the
// caller must be locked to it.
func Thread() uintptr { return getm() }

// ForgetAway forgets thread m, recorded as away for good, once a test has
// let it die.
func ForgetAway(m uintptr) {
	for i := range away.slots {
		if away.slots[i].Load() == m {
			markHome(i)
		}
	}
}
