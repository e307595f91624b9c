package nsrun

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/nsrun/nsrun/internal/nsthread"
	"github.com/nsrun/nsrun/internal/owner"
	"github.com/nsrun/nsrun/internal/paths"
	"github.com/nsrun/nsrun/internal/procscan"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Namespace is a named network namespace: a file in Dir that `ip netns`
// sees, and an open fd to it. Its methods are safe for concurrent use.
//
// A Namespace from New belongs to the caller, who must call Delete. One
// from Open or Attach only holds an fd: Close releases it, Delete removes
// the namespace as `ip netns del` would.
type Namespace struct {
	name, path string
	id         nsthread.ID
	grace      time.Duration
	hostname   string

	mu      sync.Mutex
	owned   bool // made by New: the owner record is ours
	etc     bool // New made /etc/netns/NAME for it (WithEtcFile)
	fd      int  // -1 once closed
	nl      *netlink.Handle
	cmds    []*exec.Cmd
	deleted bool
}

func create(c config) (n *Namespace, err error) {
	if err := prepareDir(); err != nil {
		return nil, err
	}
	rec := owner.New(c.name)
	rec.Etc = len(c.etcFiles) > 0
	if err := owner.Claim(rec); err != nil {
		return nil, err
	}
	if rec.Etc {
		if err := writeEtc(c.name, c.etcFiles); err != nil {
			owner.RemoveRecord(c.name)
			return nil, err
		}
	}
	path := filepath.Join(Dir(), c.name)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err != nil {
		owner.Remove(c.name)
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	unix.Close(fd)
	defer func() {
		if err != nil {
			unmountAndRemove(path)
			owner.Remove(c.name)
		}
	}()
	if err := nsthread.Create(path, func() error { return setup(c) }); err != nil {
		return nil, err
	}
	n, err = open(c.name, path)
	if err != nil {
		return nil, err
	}
	nsthread.Remember(n.fd, path)
	n.grace, n.hostname, n.owned, n.etc = c.grace, c.hostname, true, rec.Etc
	return n, nil
}

// writeEtc makes /etc/netns/NAME, which must not exist (it would be
// somebody else's), and writes the files into it. On failure it removes
// what it made.
func writeEtc(name string, files []etcFile) error {
	dir := filepath.Join(paths.Etc, name)
	if err := os.MkdirAll(paths.Etc, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", paths.Etc, err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("create %s (WithEtcFile needs a directory of its own): %w", dir, err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.name), f.data, 0o644); err != nil {
			os.RemoveAll(dir)
			return fmt.Errorf("write %s: %w", filepath.Join(dir, f.name), err)
		}
	}
	return nil
}

// setup runs inside the new namespace, on its throwaway thread.
func setup(c config) error {
	if !c.loopbackDown {
		if err := nsthread.LoopbackUp(); err != nil {
			return fmt.Errorf("bring lo up: %w", err)
		}
	}
	for _, kv := range c.sysctls {
		p, _ := sysctlPath(kv[0])
		if err := os.WriteFile(p, []byte(kv[1]), 0); err != nil {
			return fmt.Errorf("set sysctl %s=%s: %w", kv[0], kv[1], err)
		}
	}
	return nil
}

// open opens the namespace file at path and checks that it is one.
func open(name, path string) (*Namespace, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil || st.Type != unix.NSFS_MAGIC {
		unix.Close(fd)
		return nil, fmt.Errorf("open %s: not a network namespace (a file left by a crash? `nsrun gc` or `ip netns del %s` removes it)", path, name)
	}
	id, err := nsthread.Fstat(fd)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	return &Namespace{name: name, path: path, id: id, fd: fd, grace: defaultKillGrace}, nil
}

// Open opens the existing named namespace called name, made by anyone (by
// `ip netns add`, say). The caller must call Close (or Delete to remove it).
func Open(name string) (*Namespace, error) {
	if err := ValidateName(name); err != nil {
		return nil, fmt.Errorf("open network namespace: %w", err)
	}
	return open(name, filepath.Join(Dir(), name))
}

// Attach gives the network namespace of process pid the name name, as
// `ip netns attach` does, and opens it. Attach writes no owner record: the
// namespace was not made by us, so `nsrun gc` never removes it. The caller must
// call Close; Delete removes the name (and kills the processes inside,
// unless the namespace is this process's or PID 1's).
func Attach(name string, pid int) (*Namespace, error) {
	if err := ValidateName(name); err != nil {
		return nil, fmt.Errorf("attach network namespace: %w", err)
	}
	if err := prepareDir(); err != nil {
		return nil, fmt.Errorf("attach network namespace %s: %w", name, err)
	}
	path := filepath.Join(Dir(), name)
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("attach network namespace %s: create %s: %w", name, path, err)
	}
	unix.Close(fd)
	if err := nsthread.Bind(fmt.Sprintf("/proc/%d/ns/net", pid), path); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("attach network namespace %s: %w", name, err)
	}
	n, err := open(name, path)
	if err != nil {
		unmountAndRemove(path)
		return nil, fmt.Errorf("attach network namespace %s: %w", name, err)
	}
	return n, nil
}

// Name returns the namespace's name, as `ip netns list` shows it.
func (n *Namespace) Name() string { return n.name }

// Path returns the namespace's file in Dir.
func (n *Namespace) Path() string { return n.path }

// Fd returns the namespace's open fd, valid until Close or Delete; -1 after.
func (n *Namespace) Fd() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.fd
}

// fdOrErr returns the open fd or ErrClosed.
func (n *Namespace) fdOrErr() (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fd < 0 {
		return -1, fmt.Errorf("namespace %s: %w", n.name, ErrClosed)
	}
	return n.fd, nil
}

// Close releases the fd and netlink handle without removing the namespace.
// It is idempotent.
func (n *Namespace) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.closeLocked()
	return nil
}

func (n *Namespace) closeLocked() {
	if n.nl != nil {
		n.nl.Close()
		n.nl = nil
	}
	if n.fd >= 0 {
		unix.Close(n.fd)
		n.fd = -1
	}
}

// Keep marks the namespace as kept on purpose (its owner record loses its
// owner), so that `nsrun gc` leaves it after this process exits.
// Delete still removes it.
func (n *Namespace) Keep() error {
	r, err := owner.Read(n.name)
	if err == nil {
		r.Kept, r.PID, r.StartTicks = true, 0, 0
		err = owner.Replace(r)
	}
	if err != nil {
		return fmt.Errorf("keep network namespace %s: %w", n.name, err)
	}
	return nil
}

// Delete removes the namespace: it kills the processes inside (SIGTERM, then
// SIGKILL after the kill grace; never this process, nor anything in the host
// namespace), deletes the veth devices inside if links were configured
// through Netlink (so their peers elsewhere go at once, not when the kernel
// gets round to destroying the namespace), closes the fd, unmounts
// (MNT_DETACH, retrying while busy) and removes the file, then, for a
// namespace this module made, the owner record and /etc/netns/NAME. It does
// not wait for the kernel's asynchronous cleanup of the namespace. Delete
// works from any goroutine and is idempotent; errors from each step are
// joined.
func (n *Namespace) Delete() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.deleted {
		return nil
	}
	var errs []error
	if err := procscan.KillAll(procscan.Set{n.id: true}, n.trackedPids(), n.grace); err != nil {
		errs = append(errs, err)
	}
	if n.nl != nil {
		if err := n.deleteVeths(); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, n.removeLocked())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete network namespace %s: %w", n.name, err)
	}
	return nil
}

// DeleteGroup deletes namespaces that belong together (the nodes of one
// topology, say) as Delete does each, but faster: one process scan for all,
// and no veth deletion. Links between the namespaces of the group go with
// them, in one batch of the kernel's asynchronous cleanup, instead of
// costing an RCU grace period (10-30 ms) per request. Links to namespaces
// outside the group go with that cleanup too, as with `ip netns del`.
func DeleteGroup(nss ...*Namespace) error {
	ids := procscan.Set{}
	var extra []int
	grace := time.Duration(0)
	var live []*Namespace
	for _, n := range nss {
		n.mu.Lock()
		if !n.deleted {
			live = append(live, n)
			ids[n.id] = true
			extra = append(extra, n.trackedPids()...)
			grace = max(grace, n.grace)
		}
		n.mu.Unlock()
	}
	errs := []error{procscan.KillAll(ids, extra, grace)}
	for _, n := range live {
		n.mu.Lock()
		if !n.deleted {
			if err := n.removeLocked(); err != nil {
				errs = append(errs, fmt.Errorf("delete network namespace %s: %w", n.name, err))
			}
		}
		n.mu.Unlock()
	}
	return errors.Join(errs...)
}

// removeLocked closes, unmounts and removes the namespace and what this
// module keeps beside it. A namespace New made knows what that is; for
// others the owner record, if any, says.
func (n *Namespace) removeLocked() error {
	n.deleted = true
	n.closeLocked()
	errs := []error{unmountAndRemove(n.path)}
	switch {
	case !n.owned:
		errs = append(errs, owner.Remove(n.name))
	case n.etc:
		errs = append(errs, owner.RemoveEtc(n.name), owner.RemoveRecord(n.name))
	default:
		errs = append(errs, owner.RemoveRecord(n.name))
	}
	return errors.Join(errs...)
}

// unmountAndRemove unmounts path until nothing is mounted there (stacked
// mounts included), then removes it; both steps retry while busy.
func unmountAndRemove(path string) error {
	for try := 0; ; try++ {
		err := unix.Unmount(path, unix.MNT_DETACH)
		if err == nil {
			// Another mount stacked under this one still shows a namespace.
			var st unix.Statfs_t
			if unix.Statfs(path, &st) == nil && st.Type == unix.NSFS_MAGIC {
				continue
			}
			break
		}
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break // nothing mounted (a bare file), or no file
		}
		if !errors.Is(err, unix.EBUSY) || try >= 50 {
			return fmt.Errorf("unmount %s: %w", path, err)
		}
		time.Sleep(time.Duration(try+1) * time.Millisecond)
	}
	for try := 0; ; try++ {
		err := unix.Unlink(path)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || try >= 50 {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		time.Sleep(time.Duration(try+1) * time.Millisecond)
	}
}
