package owner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nsrun/nsrun/internal/nsthread"
	"github.com/nsrun/nsrun/internal/paths"
	"github.com/nsrun/nsrun/internal/procscan"
	"golang.org/x/sys/unix"
)

// Record is the owner record of one namespace.
type Record struct {
	Name       string    `json:"name"`
	PID        int       `json:"pid"`         // owner process; 0 when Kept
	StartTicks uint64    `json:"start_ticks"` // owner's start time (/proc/PID/stat field 22), tells a recycled pid apart
	Created    time.Time `json:"created"`
	Creator    string    `json:"creator"` // the owner program's name (argv[0]'s base), for `nsrun ls`
	Command    []string  `json:"command,omitempty"`
	Kept       bool      `json:"kept,omitempty"`     // kept on purpose (nsrun --keep, nsrun up): Sweep leaves it
	PIDNS      uint64    `json:"pidns,omitempty"`    // inode of the owner's PID namespace, in which PID is valid
	PIDNSID    uint64    `json:"pidns_id,omitempty"` // its never-reused id (NS_GET_ID), where the kernel has one
	Etc        bool      `json:"etc,omitempty"`      // /etc/netns/NAME was made with it (WithEtcFile): removed with it
}

// OwnerAlive reports whether the process that made the namespace still runs.
// A kept record counts as alive. An owner in another PID namespace (a
// container, or a run under nsrun) cannot be looked up by pid from here: it
// counts as alive while any process is left in that PID namespace.
func (r Record) OwnerAlive() bool {
	if r.Kept {
		return true
	}
	if r.PIDNS != 0 && r.PIDNS != self().pidns {
		return procscan.PIDNSInUse(r.PIDNS, r.PIDNSID)
	}
	start, err := StartTicks(r.PID)
	return err == nil && start == r.StartTicks
}

// self is what a record says of this process, read once, when first needed.
var self = sync.OnceValue(func() (me struct{ start, pidns, pidnsID uint64 }) {
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/pid", &st) == nil {
		me.pidns = st.Ino
	}
	me.pidnsID, _ = nsthread.UniqueIDAt("/proc/self/ns/pid")
	me.start, _ = StartTicks(os.Getpid())
	return me
})

// StartTicks returns field 22 of /proc/PID/stat: the process start time in
// clock ticks after boot.
func StartTicks(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: count
	// fields after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat: no ')'", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat: %d fields", pid, len(f))
	}
	return strconv.ParseUint(f[19], 10, 64)
}

func recordPath(name string) string { return filepath.Join(paths.Records(), name+".json") }

// Claim writes the owner record for name and fails with an error
// matching os.ErrExist if one is there already. The record appears
// complete or not at all, and the name is claimed atomically, by one link:
//
//   - The record of a namespace this process makes (r from New, without
//     Etc or Kept) is a hard link to this process's owner file, which
//     holds what the record would (owner pid, start time, PID namespace,
//     command) and is written once per process. One link and, at Delete,
//     one unlink are the cheapest pair of changes a file system can make
//     to claim and free a name: no inode to allocate and free, no data to
//     write, no journaled orphan list (which O_TMPFILE uses, and which
//     serialises parallel creators on ext4). Read fills in the name, and
//     the creation time from the namespace itself.
//   - Any other record is written whole: to an unnamed file (O_TMPFILE)
//     that one link then names, or, where the file system has no unnamed
//     files, to a named temporary file linked into place and removed.
//
// Nothing is synced to disk, on purpose. What a record guards against is
// its owner process dying (killed, crashed, timed out): the kernel's page
// cache outlives a process, so what it wrote is there for the next run
// whatever the disk holds. A crash of the machine takes every namespace
// with it (a bind mount does not survive a reboot), and a record left
// without its namespace is removed by the next sweep; /run is a tmpfs on
// most systems anyway. An fsync would cost more than the rest of New.
func Claim(r Record) error {
	path := recordPath(r.Name)
	err := errNoShared
	if r.shareable() {
		err = claimShared(path)
	}
	if errors.Is(err, errNoShared) {
		var b []byte
		if b, err = json.Marshal(r); err != nil {
			return err
		}
		err = claimUnnamed(path, b)
		if errors.Is(err, errNoUnnamed) {
			err = claimByLink(path, b)
		}
	}
	if err != nil {
		return fmt.Errorf("write owner record: %w", err)
	}
	return nil
}

var (
	errNoUnnamed = errors.New("no O_TMPFILE")
	errNoShared  = errors.New("no shared owner file")
)

// ownerPrefix starts the names of owner files. List skips them: they are
// no namespace's record.
const ownerPrefix = ".owner-"

// shareable reports whether r says nothing that this process's owner file
// does not: it is of this process, made now, with nothing made beside it.
func (r Record) shareable() bool {
	me := self()
	return r.PID == os.Getpid() && r.StartTicks == me.start && r.PIDNS == me.pidns && r.PIDNSID == me.pidnsID &&
		!r.Kept && !r.Etc
}

// owned is this process's owner file, once written.
var owned struct {
	sync.Mutex
	path string
}

// claimShared links this process's owner file to path, writing the file
// first if needed (again if somebody removed it). It returns an error
// matching errNoShared where a hard link cannot do (no owner file can be
// written, a file system without hard links, the link count at its limit).
func claimShared(path string) error {
	for try := 0; try < 2; try++ {
		src, err := ownerFile(try > 0)
		if err != nil {
			return fmt.Errorf("%w: %w", errNoShared, err)
		}
		err = unix.Link(src, path)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.ENOENT):
			continue // the owner file went: write it again
		case errors.Is(err, unix.EEXIST):
			return &os.LinkError{Op: "link", Old: src, New: path, Err: err}
		case errors.Is(err, unix.EMLINK) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EXDEV):
			return fmt.Errorf("%w: %w", errNoShared, err)
		default:
			return &os.LinkError{Op: "link", Old: src, New: path, Err: err}
		}
	}
	return errNoShared
}

// ownerFile returns the path of this process's owner file, written (whole,
// by rename) the first time, or again with rewrite.
func ownerFile(rewrite bool) (string, error) {
	owned.Lock()
	defer owned.Unlock()
	if owned.path != "" && !rewrite {
		return owned.path, nil
	}
	r := New("")
	r.Name = "" // the namespaces' names are the links'
	b, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	me := self()
	path := filepath.Join(paths.Records(), fmt.Sprintf("%s%d-%d-%d.json", ownerPrefix, me.pidns, r.PID, me.start))
	tmp, err := os.CreateTemp(paths.Records(), ".tmp-*")
	if err != nil {
		return "", err
	}
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	owned.path = path
	return path, nil
}

// Owned returns the path of this process's owner file, "" if it has none.
func Owned() string {
	owned.Lock()
	defer owned.Unlock()
	return owned.path
}

// Release removes this process's owner file if no record links to it any
// more (every namespace it made is gone, or has a record of its own). A
// process that is done making namespaces calls it before it exits, so that
// nothing of it is left behind; without it, the next sweep removes the file
// once the process has died. A later Claim writes the file again.
func Release() error {
	owned.Lock()
	defer owned.Unlock()
	if owned.path == "" {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Stat(owned.path, &st); err != nil || st.Nlink > 1 {
		return nil // gone already, or still some namespace's record
	}
	// A Claim racing with this finds the file gone and writes it again.
	if err := os.Remove(owned.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove owner file: %w", err)
	}
	owned.path = ""
	return nil
}

// claimUnnamed writes b to an unnamed file in path's directory and links it
// to path, which must not exist.
func claimUnnamed(path string, b []byte) error {
	fd, err := unix.Open(filepath.Dir(path), unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
	if err != nil {
		if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EINVAL) {
			return errNoUnnamed
		}
		return err
	}
	defer unix.Close(fd)
	if n, err := unix.Write(fd, b); err != nil || n != len(b) {
		if err == nil {
			err = io.ErrShortWrite
		}
		return err
	}
	err = unix.Linkat(fd, "", unix.AT_FDCWD, path, unix.AT_EMPTY_PATH)
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPERM) {
		// AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH in the host's user
		// namespace (a rootless run lacks it); the fd's /proc link does not.
		err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(fd), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
	}
	return err
}

// claimByLink writes b to a named temporary file beside path, links it to
// path, which must not exist, and removes the temporary name.
func claimByLink(path string, b []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
	}
	return err
}

// Replace overwrites the record for r.Name (write, then rename).
func Replace(r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp := filepath.Join(paths.Records(), ".tmp-"+r.Name)
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write owner record: %w", err)
	}
	if err := os.Rename(tmp, recordPath(r.Name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write owner record: %w", err)
	}
	return nil
}

// Remove removes what nsrun keeps beside the namespace called name, as its
// record says: /etc/netns/NAME if it was made with the namespace (a
// directory the user wrote is never touched), then the record itself.
func Remove(name string) error {
	r, err := Read(name)
	if err != nil {
		return RemoveRecord(name) // none, or unreadable
	}
	if r.Etc {
		if err := RemoveEtc(name); err != nil {
			return err
		}
	}
	return RemoveRecord(name)
}

// RemoveEtc removes /etc/netns/NAME and what it holds.
func RemoveEtc(name string) error {
	dir := filepath.Join(paths.Etc, name)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

// RemoveRecord removes the record of name, if there is one.
func RemoveRecord(name string) error {
	err := unix.Unlink(recordPath(name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove owner record: %w", &os.PathError{Op: "remove", Path: recordPath(name), Err: err})
	}
	return nil
}

// Read returns the owner record of the namespace called name; the error
// matches os.ErrNotExist if nsrun did not make it.
func Read(name string) (Record, error) {
	r, err := readFile(recordPath(name))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return r, err
		}
		return r, fmt.Errorf("parse owner record of %s: %w", name, err)
	}
	if r.Name == "" {
		// A link to its owner's file (see Claim): the name is the link's,
		// and the namespace's nsfs inode was made when the namespace was.
		var st unix.Stat_t
		if err := unix.Stat(filepath.Join(paths.Netns(), name), &st); err == nil {
			r.Created = time.Unix(st.Mtim.Unix()).UTC()
		}
	}
	r.Name = name
	return r, nil
}

// readFile reads and parses a record or owner file.
func readFile(path string) (Record, error) {
	var r Record
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	err = json.Unmarshal(b, &r)
	return r, err
}

// List returns the owner records of every namespace nsrun made that has not
// been removed, sorted by name.
func List() ([]Record, error) {
	entries, err := os.ReadDir(paths.Records())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list owner records: %w", err)
	}
	var out []Record
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		r, err := Read(name)
		if err != nil {
			continue // removed meanwhile, or unreadable: not ours to judge
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Sweep removes the namespaces nsrun made whose owner process has died and
// that were not kept: del (the core's DeleteNamed, which kills the
// processes inside first) removes each, then Sweep removes what the record
// says was made with it, and the record. It never touches a namespace
// without a record. With dryRun it only reports what it would remove. It
// returns the records of the namespaces removed (or to remove).
func Sweep(dryRun bool, del func(name string) error) ([]Record, error) {
	recs, err := List()
	if err != nil {
		return nil, err
	}
	var swept []Record
	var errs []error
	for _, r := range recs {
		if r.OwnerAlive() {
			continue
		}
		if !dryRun {
			err := del(r.Name)
			if errors.Is(err, os.ErrNotExist) {
				err = nil // a record whose namespace is gone already
			}
			if err == nil {
				err = Remove(r.Name)
			}
			if err != nil {
				errs = append(errs, err)
				continue
			}
		}
		swept = append(swept, r)
	}
	if !dryRun {
		sweepOwnerFiles()
	}
	return swept, errors.Join(errs...)
}

// sweepOwnerFiles removes the owner files of dead owners that no record
// links to any more (see Claim). A live owner keeps its file, whether or
// not it has namespaces now; a dead one's goes once its last record has.
func sweepOwnerFiles() {
	entries, _ := os.ReadDir(paths.Records())
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ownerPrefix) || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		path := filepath.Join(paths.Records(), e.Name())
		var st unix.Stat_t
		if unix.Stat(path, &st) != nil || st.Nlink > 1 {
			continue // gone, or still some namespace's record
		}
		if r, err := readFile(path); err == nil && !r.OwnerAlive() {
			os.Remove(path)
		}
	}
}

// New returns the record of a namespace called name that this process is
// making now.
func New(name string) Record {
	me := self()
	return Record{Name: name, PID: os.Getpid(), StartTicks: me.start, PIDNS: me.pidns, PIDNSID: me.pidnsID,
		Created: time.Now().UTC(), Creator: filepath.Base(os.Args[0]), Command: os.Args}
}
