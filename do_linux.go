package nsrun

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/nsrun/nsrun/internal/corehook"
	"github.com/nsrun/nsrun/internal/nsthread"
	"github.com/vishvananda/netlink"
)

// Do runs fn inside the namespace and returns its error. fn runs on a fresh
// goroutine locked to its OS thread, which is switched into the namespace
// before fn and switched back (and the switch verified) after it; if that
// fails the thread is destroyed rather than reused, and the error says so.
// The caller's goroutine and thread never change namespace. A panic in fn,
// or runtime.Goexit (t.FailNow), goes on in the caller after the thread is
// restored, as if fn had been called directly.
//
// Goroutines started by fn do NOT inherit the namespace: they may run on any
// thread. Use Go for one that does, or make sockets inside (Listen, Dial),
// which stay in the namespace whatever goroutine uses them. fn must not call
// runtime.UnlockOSThread.
func (n *Namespace) Do(fn func() error) error {
	fd, err := n.fdFor(true)
	if err != nil {
		return err
	}
	return nsthread.Do(fd, fn)
}

// Go starts fn on a new goroutine pinned inside the namespace, and returns a
// channel that receives fn's error once it returns (an error if fn called
// runtime.Goexit). A panic in fn crashes the program, as in any goroutine.
// A thread that cannot be switched back is destroyed, and the error says
// so.
func (n *Namespace) Go(fn func() error) <-chan error {
	fd, err := n.fdFor(true)
	if err != nil {
		errc := make(chan error, 1)
		errc <- err
		return errc
	}
	return nsthread.Go(fd, fn)
}

// Listen announces on the local address inside the namespace, like
// net.Listen. The listener is usable from any goroutine: a socket stays in
// the namespace it was made in.
func (n *Namespace) Listen(network, address string) (net.Listener, error) {
	var l net.Listener
	err := n.do(func() (err error) { l, err = net.Listen(network, address); return })
	return l, err
}

// do is Do for this package's own functions, which start no process: the
// namespace stays one that Delete knows holds none (unless opened), as a
// socket made inside gives no way in that a watch does not see (SIOCGSKNS
// opens the namespace).
func (n *Namespace) do(fn func() error) error {
	fd, err := n.fdOrErr()
	if err != nil {
		return err
	}
	return nsthread.Do(fd, fn)
}

// ListenPacket is net.ListenPacket inside the namespace.
func (n *Namespace) ListenPacket(network, address string) (net.PacketConn, error) {
	var c net.PacketConn
	err := n.do(func() (err error) { c, err = net.ListenPacket(network, address); return })
	return c, err
}

// Dial is net.Dial from inside the namespace. Use IP addresses: host names
// are resolved by goroutines that may run outside the namespace.
func (n *Namespace) Dial(network, address string) (net.Conn, error) {
	return n.DialContext(context.Background(), network, address)
}

// DialContext is (*net.Dialer).DialContext from inside the namespace.
func (n *Namespace) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	var c net.Conn
	err := n.do(func() (err error) {
		var d net.Dialer
		c, err = d.DialContext(ctx, network, address)
		return
	})
	return c, err
}

// Netlink returns a netlink handle whose sockets live in the namespace, for
// configuring links, addresses and routes in it from any goroutine. The
// handle belongs to the Namespace: do not Close it; Close and Delete do.
//
// Warning: do not use the handle after Close or Delete. A closed
// vishvananda/netlink handle does not fail: it silently makes its sockets
// in the calling thread's namespace, which is usually the host's.
func (n *Namespace) Netlink() (*netlink.Handle, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.netlinkLocked()
}

func (n *Namespace) netlinkLocked() (*netlink.Handle, error) {
	if n.fd < 0 {
		return nil, fmt.Errorf("namespace %s: %w", n.name, ErrClosed)
	}
	if n.nl == nil {
		// NewHandle makes its sockets in the calling thread's namespace,
		// which inside Do is this one. (NewHandleAt would switch the
		// caller's thread itself and unlock it even if switching back failed.)
		err := nsthread.Do(n.fd, func() (err error) { n.nl, err = netlink.NewHandle(); return })
		if err != nil {
			return nil, fmt.Errorf("open netlink in %s: %w", n.name, err)
		}
	}
	return n.nl, nil
}

// deleteVeths deletes the veth devices in the namespace whose peer lives in
// another namespace, so the peer goes now rather than when the kernel gets
// round to destroying this namespace (a late peer blocks reusing its name).
func (n *Namespace) deleteVeths() error {
	h, err := n.netlinkLocked()
	if err != nil {
		return err
	}
	links, err := h.LinkList()
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	var errs []error
	for _, l := range links {
		if l.Type() == "veth" && l.Attrs().NetNsID >= 0 {
			if err := h.LinkDel(l); err != nil && !errors.Is(err, errNoDevice) {
				errs = append(errs, fmt.Errorf("delete link %s: %w", l.Attrs().Name, err))
			}
		}
	}
	return errors.Join(errs...)
}

func init() {
	corehook.Pin = func(ns any) (func() error, error) {
		n := ns.(*Namespace)
		fd, err := n.fdFor(true)
		if err != nil {
			return nil, err
		}
		exit, err := nsthread.Enter(fd)
		if err != nil {
			return nil, fmt.Errorf("enter network namespace %s: %w", n.name, err)
		}
		return exit, nil
	}
}
