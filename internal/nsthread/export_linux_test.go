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
