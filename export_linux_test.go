package nsrun

// Scanned reports whether Delete read /proc to find the processes inside n.
func Scanned(n *Namespace) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.scanned
}
