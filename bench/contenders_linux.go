package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/containernetworking/plugins/pkg/testutils"
	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/bench/internal/rawnl"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The contenders. Each create+delete contender makes a named namespace in
// /run/netns with lo up and removes it, registering the path while it
// exists so that cleanup can remove it if a step fails. lo is link 1 in a
// new namespace, so every contender raises it with one RTM_NEWLINK by index
// (no lookup by name first).

// hostNetns is this process's network namespace, opened once.
var hostNetns = func() int {
	fd, err := unix.Open("/proc/self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}()

// rawCreate is the floor: open(O_EXCL) the file, then on a fresh goroutine
// locked to its thread unshare(CLONE_NEWNET), bind /proc/thread-self/ns/net
// onto the file, one RTM_NEWLINK setting lo up, and setns back. No
// validation, records, verification or process scan.
func rawCreate(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	unix.Close(fd)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("unshare: %w", err)
			return
		}
		err := unix.Mount("/proc/thread-self/ns/net", path, "none", unix.MS_BIND, "")
		if err == nil {
			err = rawnl.LoopbackUp()
		}
		if serr := unix.Setns(hostNetns, unix.CLONE_NEWNET); serr != nil {
			errc <- errors.Join(err, serr) // the thread stays locked and dies
			return
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// rawDelete is umount2(MNT_DETACH) and unlink.
func rawDelete(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("umount %s: %w", path, err)
	}
	return unix.Unlink(path)
}

// lo is link 1, for vishvananda/netlink's LinkSetUp.
func lo() netlink.Link { return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: 1, Name: "lo"}} }

// vishCreate is vishvananda/netns as its README shows it, on the calling
// goroutine: lock the thread, Get the current namespace, NewNamed (which
// unshares the thread into the new namespace and binds it), LinkSetUp(lo)
// through vishvananda/netlink, Set back, unlock.
func vishCreate(name string) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	h, err := netns.NewNamed(name)
	if err == nil {
		err = netlink.LinkSetUp(lo())
		h.Close()
	}
	// NewNamed may fail after its unshare: switch back in every case.
	if serr := netns.Set(orig); serr != nil {
		return errors.Join(err, serr) // the thread stays locked
	}
	runtime.UnlockOSThread()
	return err
}

// cniCreateDelete is CNI's testutils: NewNS (a random cnitest-* name, made on a
// throwaway thread), lo up inside through ns.Do, Close, UnmountNS. It
// registers the path, which only NewNS knows, as soon as it exists.
func cniCreateDelete(reg *registry) error {
	n, err := testutils.NewNS()
	if err != nil {
		return err
	}
	path := n.Path()
	reg.addCNI(path)
	err = n.Do(func(ns.NetNS) error { return netlink.LinkSetUp(lo()) })
	err = errors.Join(err, n.Close())
	if err != nil {
		return err
	}
	if err := testutils.UnmountNS(n); err != nil {
		return err
	}
	reg.done(path)
	return nil
}

// nsrunCreateDelete is nsrun.New (lo up by default) and Delete.
func nsrunCreateDelete(reg *registry, prefix string) error {
	n, err := nsrun.New(nsrun.WithPrefix(prefix))
	if err != nil {
		return err
	}
	reg.add(n.Path())
	if err := n.Delete(); err != nil {
		return err
	}
	reg.done(n.Path())
	return nil
}

// Do contenders: switch a thread into the namespace, run nop, switch back.

func nop() error { return nil }

// setnsPair is the floor: two bare setns calls on the locked calling thread.
func setnsPair(fd int) error {
	runtime.LockOSThread()
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	err := nop()
	if serr := unix.Setns(hostNetns, unix.CLONE_NEWNET); serr != nil {
		return errors.Join(err, serr) // the thread stays locked
	}
	runtime.UnlockOSThread()
	return err
}

// vishDo is vishvananda/netns's idiom: lock, Get, Set(target), fn,
// Set(orig), close, unlock.
func vishDo(target netns.NsHandle) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	err = nop()
	if serr := netns.Set(orig); serr != nil {
		return errors.Join(err, serr) // the thread stays locked
	}
	runtime.UnlockOSThread()
	return err
}

// Commands. runner runs them with stdout to /dev/null and stderr to one
// file that is emptied before each, so that no pipe or copying goroutine
// is timed, and the error can still say what went wrong.
type runner struct{ stderr *os.File }

func newRunner(dir string) (*runner, error) {
	f, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		return nil, err
	}
	return &runner{stderr: f}, nil
}

// cmd prepares name args; reset must be called (untimed) before running it.
func (r *runner) cmd(name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	c.Stderr = r.stderr
	return c
}

func (r *runner) reset() {
	r.stderr.Truncate(0)
	r.stderr.Seek(0, 0)
}

// check turns a command's error into one that carries its stderr.
func (r *runner) check(c *exec.Cmd, err error) error {
	if err == nil {
		return nil
	}
	b, _ := os.ReadFile(r.stderr.Name())
	return fmt.Errorf("%s: %w: %s", strings.Join(c.Args, " "), err, strings.TrimSpace(string(b)))
}

// run runs commands in sequence (timed by the caller), stopping at the first failure.
func (r *runner) run(cmds ...*exec.Cmd) error {
	for _, c := range cmds {
		if err := c.Run(); err != nil {
			return r.check(c, err)
		}
	}
	return nil
}

// ipCommands are the shell-out: ip netns add; ip -n link set lo up; ip netns del.
func ipCommands(r *runner, name string) []*exec.Cmd {
	return []*exec.Cmd{
		r.cmd("ip", "netns", "add", name),
		r.cmd("ip", "-n", name, "link", "set", "lo", "up"),
		r.cmd("ip", "netns", "del", name),
	}
}

// lanScript is fixture.LAN(hosts) as the ip commands a person would write
// (one process per command, as fixture's own benchmark has it): a switch
// namespace with bridge br0, and per host a namespace, a veth pair with one
// end in the bridge, an IPv4 and an IPv6 address (nodad), links up. It
// returns the names, the build script and the teardown script.
func lanScript(p string, hosts int) (names []string, up, down string) {
	var u, d strings.Builder
	ns := func(s string) {
		names = append(names, p+s)
		fmt.Fprintf(&u, "ip netns add %s%s\nip -n %s%s link set lo up\n", p, s, p, s)
		fmt.Fprintf(&d, "ip netns del %s%s\n", p, s)
	}
	ns("sw")
	fmt.Fprintf(&u, "ip -n %ssw link add br0 type bridge\nip -n %ssw link set br0 up\n", p, p)
	for i := 1; i <= hosts; i++ {
		h := fmt.Sprintf("h%d", i)
		ns(h)
		fmt.Fprintf(&u, "ip -n %ssw link add br0p%d type veth peer name eth0 netns %s%s\n", p, i-1, p, h)
		fmt.Fprintf(&u, "ip -n %ssw link set br0p%d master br0 up\n", p, i-1)
		fmt.Fprintf(&u, "ip -n %s%s addr add 10.200.0.%d/24 dev eth0\n", p, h, i+1)
		fmt.Fprintf(&u, "ip -n %s%s addr add fd00:6e73::%x/64 dev eth0 nodad\n", p, h, i+1)
		fmt.Fprintf(&u, "ip -n %s%s link set eth0 up\n", p, h)
	}
	return names, u.String(), d.String()
}
