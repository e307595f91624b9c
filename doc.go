// Package nsrun gives tests throwaway named network namespaces: made in
// about a millisecond, visible to `ip netns`, usable from Go without moving
// the caller's goroutine, and removed with everything inside them.
//
// This package is the core and returns errors; package nstest wraps it for
// go test (cleanup through t.Cleanup, skip without privilege), package
// fixture builds topologies (hosts, links, addresses, routes, faults) on it,
// package runner supervises processes inside namespaces, and the nsrun
// command does all of this for programs that are not written in Go.
//
//	n, err := nsrun.New()             // named, lo up; `ip netns list` shows it
//	defer n.Delete()                  // kills what is inside, then removes it
//	ln, err := n.Listen("tcp", "127.0.0.1:0")
//	err = n.Do(func() error { ... })  // fn runs on a thread inside n
//	out, err := n.Command("ip", "addr").Output()
//
// # Threads and goroutines
//
// A network namespace belongs to an OS thread, not to a goroutine. Do runs
// its function on a fresh goroutine locked to a thread that is switched into
// the namespace and back; the switch back is verified, and a thread that
// cannot be restored is destroyed rather than reused. The caller's
// goroutine and thread never move. Goroutines started inside
// Do do not inherit the namespace: use Go for one that does, or make
// sockets inside (Listen, Dial, ListenPacket, Netlink), which keep their
// namespace whatever goroutine uses them.
//
// # Names, ownership and leftovers
//
// Namespaces live as files in Dir (/run/netns), exactly as `ip netns add`
// makes them, so `ip netns exec`, `ip -n` and `ip netns pids` work on them
// while a test runs, and what `ip netns add` makes, Open can use. Each
// namespace New makes has an owner record (pid, start time, PID namespace)
// in /run/nsrun beside Dir; `nsrun gc`, and the first nstest.New of a test
// binary, remove those whose owner process died, and never a namespace
// without a record.
//
// # Privileges
//
// Creating and deleting namespaces needs CAP_SYS_ADMIN (and CAP_NET_ADMIN
// for links): run as root. Without it, errors match os.ErrPermission. The
// package builds on every OS; off Linux every function returns an error
// matching ErrNotSupported.
//
// # Errors
//
// Errors say what was being done and wrap the cause:
//
//	errors.Is(err, nsrun.ErrInvalid)  a bad name or option; nothing was changed
//	errors.Is(err, os.ErrPermission)  no privilege
//	errors.Is(err, os.ErrExist)       the name is taken
//	errors.Is(err, os.ErrNotExist)    no namespace by that name
//	errors.Is(err, nsrun.ErrClosed)   the Namespace was closed or deleted
//	errors.Is(err, nsrun.ErrNotSupported)  not Linux
//
// # Environment
//
// NSRUN_NETNS_DIR overrides Dir, for private setups; iproute2 only ever
// looks at the default.
package nsrun
