package owner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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
// matching os.ErrExist if one is there already. The content is written to a
// temporary file and linked into place, so the record appears complete or
// not at all, and the link claims the name atomically.
func Claim(r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(paths.Records(), ".tmp-*")
	if err != nil {
		return fmt.Errorf("write owner record: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(b)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), recordPath(r.Name))
	}
	if err != nil {
		return fmt.Errorf("write owner record: %w", err)
	}
	return nil
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
	err := os.Remove(recordPath(name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove owner record: %w", err)
	}
	return nil
}

// Read returns the owner record of the namespace called name; the error
// matches os.ErrNotExist if nsrun did not make it.
func Read(name string) (Record, error) {
	var r Record
	b, err := os.ReadFile(recordPath(name))
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("parse owner record of %s: %w", name, err)
	}
	return r, nil
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
	return swept, errors.Join(errs...)
}

// New returns the record of a namespace called name that this process is
// making now.
func New(name string) Record {
	me := self()
	return Record{Name: name, PID: os.Getpid(), StartTicks: me.start, PIDNS: me.pidns, PIDNSID: me.pidnsID,
		Created: time.Now().UTC(), Creator: filepath.Base(os.Args[0]), Command: os.Args}
}
