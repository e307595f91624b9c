package nsthread

// SabotageHost makes every switch back to the host namespace fail until the
// returned function is called, to test what happens to such a thread.
func SabotageHost() (undo func()) {
	fd := host.fd
	host.fd = -1
	return func() { host.fd = fd }
}
