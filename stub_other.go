//go:build !linux

// The API of the Linux files, for programs that must build on every OS:
// each call fails with errNotLinux or returns a zero value (see the Linux
// files for the docs). New still checks its options first.

package nsrun

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"runtime"

	"github.com/vishvananda/netlink"
)

var errNotLinux = fmt.Errorf("network namespaces need Linux (this is %s): %w", runtime.GOOS, ErrNotSupported)

// Namespace is a named network namespace; there are none off Linux.
type Namespace struct{}

// create fails off Linux, after New has checked the options.
func create(c config) (*Namespace, error) { return nil, errNotLinux }

// Open fails off Linux.
func Open(name string) (*Namespace, error) { return nil, errNotLinux }

// Attach fails off Linux.
func Attach(name string, pid int) (*Namespace, error) { return nil, errNotLinux }

// DeleteGroup fails off Linux.
func DeleteGroup(nss ...*Namespace) error { return errNotLinux }

// DeleteNamed fails off Linux.
func DeleteNamed(name string) error { return errNotLinux }

// Monitor fails off Linux.
func Monitor(ctx context.Context) (<-chan Event, error) { return nil, errNotLinux }

// List fails off Linux.
func List() ([]Entry, error) { return nil, errNotLinux }

// SetNSID fails off Linux.
func SetNSID(name string, nsid int) error { return errNotLinux }

// Identify fails off Linux.
func Identify(pid int) ([]string, error) { return nil, errNotLinux }

// Pids fails off Linux.
func Pids(name string) ([]int, error) { return nil, errNotLinux }

// ListNSIDs fails off Linux.
func ListNSIDs(target, nsid int) ([]NSIDEntry, error) { return nil, errNotLinux }

// WireNSIDs fails off Linux.
func WireNSIDs(nss ...*Namespace) error { return errNotLinux }

// Name returns "" off Linux.
func (n *Namespace) Name() string { return "" }

// Path returns "" off Linux.
func (n *Namespace) Path() string { return "" }

// Fd returns -1 off Linux.
func (n *Namespace) Fd() int { return -1 }

// Close fails off Linux.
func (n *Namespace) Close() error { return errNotLinux }

// Keep fails off Linux.
func (n *Namespace) Keep() error { return errNotLinux }

// Delete fails off Linux.
func (n *Namespace) Delete() error { return errNotLinux }

// Do fails off Linux.
func (n *Namespace) Do(fn func() error) error { return errNotLinux }

// Go sends errNotLinux off Linux.
func (n *Namespace) Go(fn func() error) <-chan error {
	errc := make(chan error, 1)
	errc <- errNotLinux
	return errc
}

// Listen fails off Linux.
func (n *Namespace) Listen(network, address string) (net.Listener, error) { return nil, errNotLinux }

// ListenPacket fails off Linux.
func (n *Namespace) ListenPacket(network, address string) (net.PacketConn, error) {
	return nil, errNotLinux
}

// Dial fails off Linux.
func (n *Namespace) Dial(network, address string) (net.Conn, error) { return nil, errNotLinux }

// DialContext fails off Linux.
func (n *Namespace) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return nil, errNotLinux
}

// Netlink fails off Linux.
func (n *Namespace) Netlink() (*netlink.Handle, error) { return nil, errNotLinux }

// Command returns a command whose Start fails off Linux.
func (n *Namespace) Command(name string, arg ...string) *exec.Cmd {
	return n.CommandContext(context.Background(), name, arg...)
}

// CommandContext returns a command whose Start fails off Linux.
func (n *Namespace) CommandContext(ctx context.Context, name string, arg ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, arg...)
	cmd.Err = errNotLinux
	return cmd
}

// NSID fails off Linux.
func (n *Namespace) NSID(peer *Namespace) (int, error) { return NoNSID, errNotLinux }

// SetNSID fails off Linux.
func (n *Namespace) SetNSID(peer *Namespace, nsid int) error { return errNotLinux }

// Pids fails off Linux.
func (n *Namespace) Pids() ([]int, error) { return nil, errNotLinux }
