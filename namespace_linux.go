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

	// watch reports opens of the namespace (see procscan.Watch), from
	// before New gave it its name. scan says that processes may be inside
	// that no open revealed, so that Delete must read /proc to find them:
	// the namespace was not made by New (or could not be watched), or it
	// was handed to code that may start processes in it without an open
	// (Fd, Do, Go, nstest.Run; Command is counted by cmds).
	watch   procscan.Watch
	scan    bool
	scanned bool // Delete read /proc for it (for tests)
}

func create(c config) (*Namespace, error) {
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
	// The watch starts on the new namespace's thread, before the bind mount
	// names it: from then on every open of it is seen, and Delete can tell
	// a namespace nobody entered without reading /proc.
	var w procscan.Watch
	fd, id, err := nsthread.Create(nsthread.Spec{Path: path, LoopbackUp: !c.loopbackDown,
		Watch: func(fd int) { w = procscan.StartWatch(fd) }, Setup: c.setup()})
	if err != nil {
		w.Opened() // ends it
		unname(path)
		owner.Remove(c.name)
		return nil, err
	}
	nsthread.Remember(id, fd, path)
	return &Namespace{name: c.name, path: path, id: id, fd: fd, grace: c.grace, hostname: c.hostname,
		owned: true, etc: rec.Etc, watch: w, scan: w == procscan.Watch{}}, nil
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

// setup returns what runs inside the new namespace once it is named (and
// lo is up), or nil if nothing needs to.
func (c config) setup() func() error {
	if len(c.sysctls) == 0 {
		return nil
	}
	return func() error {
		for _, kv := range c.sysctls {
			p, _ := sysctlPath(kv[0])
			if err := os.WriteFile(p, []byte(kv[1]), 0); err != nil {
				return fmt.Errorf("set sysctl %s=%s: %w", kv[0], kv[1], err)
			}
		}
		return nil
	}
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
	return &Namespace{name: name, path: path, id: id, fd: fd, grace: defaultKillGrace, scan: true}, nil
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
		unname(path)
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
	n.scan = true // whatever the fd is used for, no open of the namespace shows it
	return n.fd
}

// fdOrErr returns the open fd or ErrClosed, for this package's own use of
// it (netlink, nsids, sockets), which starts no process inside.
func (n *Namespace) fdOrErr() (int, error) { return n.fdFor(false) }

// fdFor returns the open fd or ErrClosed. With entering set, the fd is for
// running the caller's code inside, which may start processes there that
// no open of the namespace reveals: Delete must then scan /proc.
func (n *Namespace) fdFor(entering bool) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fd < 0 {
		return -1, fmt.Errorf("namespace %s: %w", n.name, ErrClosed)
	}
	n.scan = n.scan || entering
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
	// Without the fd the watch cannot vouch for anything (nsfs may make a
	// new inode for the namespace, which the watch does not see).
	n.watch.Opened()
	n.watch, n.scan = procscan.Watch{}, true
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

// Delete removes the namespace: it removes its name (unmounts it,
// MNT_DETACH, stacked mounts included, and removes the file, retrying
// while busy), so that nobody enters it by name any more, kills the
// processes inside (SIGTERM, then SIGKILL after the kill grace; never this
// process, nor anything in the host namespace), deletes the veth devices
// inside if links were configured through Netlink (so their peers
// elsewhere go at once, not when the kernel gets round to destroying the
// namespace), closes the fd, then, for a namespace this module made,
// removes the owner record and /etc/netns/NAME. It does not wait for the
// kernel's asynchronous cleanup of the namespace. Delete works from any
// goroutine and is idempotent; errors from each step are joined.
//
// Finding the processes inside takes a read of every process in /proc,
// whose cost grows with the host's process count, except for a namespace
// made by New that nobody opened since (New watches it for opens, see
// internal/procscan) and that was never handed to code that could start
// processes in it without an open (Fd, Do, Go, Command, nstest.Run): such a
// namespace has nobody inside. (The ways in left unseen need privilege
// over this very process: taking one of its fds with pidfd_getfd, or
// setns through a pidfd of one of its threads at the moment that thread
// runs inside, in Listen or Dial.)
func (n *Namespace) Delete() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.deleted {
		return nil
	}
	unnamed := unname(n.path)
	errs := []error{unnamed}
	if n.scanned = n.mayHoldProcessesLocked(); n.scanned {
		errs = append(errs, procscan.KillAll(procscan.Set{n.id: true}, n.trackedPids(), n.grace))
	}
	if n.nl != nil {
		if err := n.deleteVeths(); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, n.removeLocked(unnamed == nil))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete network namespace %s: %w", n.name, err)
	}
	return nil
}

// mayHoldProcessesLocked reports whether processes may be inside n, so
// that they must be looked for in /proc. It ends n's watch: call it after
// the name is gone (no open by name can begin after that) and before the
// fd is closed (which the watch needs, see procscan.Watch).
func (n *Namespace) mayHoldProcessesLocked() bool {
	if n.watch != (procscan.Watch{}) {
		n.scan = n.scan || n.watch.Opened()
		n.watch = procscan.Watch{}
	}
	return n.scan || len(n.cmds) > 0
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
	var errs []error
	var live []*Namespace
	unnamed := map[*Namespace]bool{}
	for _, n := range nss {
		n.mu.Lock()
		if _, seen := unnamed[n]; !seen && !n.deleted {
			err := unname(n.path)
			if err != nil {
				errs = append(errs, fmt.Errorf("delete network namespace %s: %w", n.name, err))
			}
			live, unnamed[n] = append(live, n), err == nil
			if n.scanned = n.mayHoldProcessesLocked(); n.scanned {
				ids[n.id] = true
				extra = append(extra, n.trackedPids()...)
				grace = max(grace, n.grace)
			}
		}
		n.mu.Unlock()
	}
	if len(ids) > 0 {
		errs = append(errs, procscan.KillAll(ids, extra, grace))
	}
	for _, n := range live {
		n.mu.Lock()
		if !n.deleted {
			if err := n.removeLocked(unnamed[n]); err != nil {
				errs = append(errs, fmt.Errorf("delete network namespace %s: %w", n.name, err))
			}
		}
		n.mu.Unlock()
	}
	return errors.Join(errs...)
}

// removeLocked closes the namespace and, if its name is gone, removes what
// this module keeps beside it. A namespace New made knows what that is;
// for others the owner record, if any, says. A name that could not be
// removed keeps its record, so that a sweep can retry.
func (n *Namespace) removeLocked(unnamed bool) error {
	n.deleted = true
	n.closeLocked()
	switch {
	case !unnamed:
		return nil
	case !n.owned:
		return owner.Remove(n.name)
	case n.etc:
		return errors.Join(owner.RemoveEtc(n.name), owner.RemoveRecord(n.name))
	default:
		return owner.RemoveRecord(n.name)
	}
}

// unname unmounts path until nothing is mounted there and removes the file;
// no file is fine. A file still busy after an unmount is a mount point
// still (another mount was stacked on the name): it is unmounted again.
// Both steps retry while busy for reasons of their own.
func unname(path string) error {
	for try := 0; ; try++ {
		uerr := unix.Unmount(path, unix.MNT_DETACH)
		if uerr != nil && !errors.Is(uerr, unix.EINVAL) && !errors.Is(uerr, unix.ENOENT) {
			// EINVAL: nothing mounted (a bare file); ENOENT: no file.
			if !errors.Is(uerr, unix.EBUSY) || try >= 50 {
				return fmt.Errorf("unmount %s: %w", path, uerr)
			}
			time.Sleep(time.Duration(try+1) * time.Millisecond)
			continue
		}
		err := unix.Unlink(path)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || try >= 50 {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		if uerr != nil {
			// Nothing was mounted, and yet busy: wait.
			time.Sleep(time.Duration(try+1) * time.Millisecond)
		}
	}
}
