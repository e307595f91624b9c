package nsrun

// The values that List, ListNSIDs and Monitor return.

// Entry is a named namespace as `ip netns list` shows it.
type Entry struct {
	Name string
	NSID int // the id the current namespace has for it, or NoNSID
}

// NSIDEntry is one line of `ip netns list-id`.
type NSIDEntry struct {
	NSID        int    // id in the listed namespace (the target, if one was given)
	CurrentNSID int    // with a target: the same peer's id in the current namespace; else NoNSID
	Name        string // the peer's name in Dir, if it has one
}

// NoNSID is the id reported for a peer namespace that has none. Given to
// SetNSID it asks the kernel to pick a free id, as `ip netns set NAME auto`;
// given to ListNSIDs it means no filter.
const NoNSID = -1

// Event is one named namespace added to (as `ip netns monitor` prints
// "add NAME") or deleted from ("delete NAME") Dir.
type Event struct {
	Name    string
	Deleted bool // false: added
}
