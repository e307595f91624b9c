package nsrun

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
	"time"

	"github.com/nsrun/nsrun/internal/mountns"
	"github.com/nsrun/nsrun/internal/nsthread"
	"golang.org/x/sys/unix"
)

// Record is the owner record of a namespace made by this module: who made
// it, so that a later run can tell a leftover whose owner died (remove it)
// from one in use (leave it). Records live in RecordDir, one JSON file per
// namespace; a namespace without a record was not made by us and is never
// touched by Sweep.
type Record struct {
	Name       string    `json:"name"`
	PID        int       `json:"pid"`         // owner process; 0 when Kept
	StartTicks uint64    `json:"start_ticks"` // owner's start time (/proc/PID/stat field 22), tells a recycled pid apart
	Created    time.Time `json:"created"`
	Creator    string    `json:"creator"` // "nsrun", "nstest", "fixture", ...
	Command    []string  `json:"command,omitempty"`
	Kept       bool      `json:"kept,omitempty"`     // kept on purpose (nsrun --keep, nsrun up): Sweep leaves it
	PIDNS      uint64    `json:"pidns,omitempty"`    // inode of the owner's PID namespace, in which PID is valid
	PIDNSID    uint64    `json:"pidns_id,omitempty"` // its never-reused id (NS_GET_ID), where the kernel has one
	Etc        bool      `json:"etc,omitempty"`      // /etc/netns/NAME was made for it (EtcDir): removed with it
}

// OwnerAlive reports whether the process that made the namespace still runs.
// A kept record counts as alive. An owner in another PID namespace (a
// container, or a run under nsrun) cannot be looked up by pid from here: it
// counts as alive while any process is left in that PID namespace.
func (r Record) OwnerAlive() bool {
	if r.Kept {
		return true
	}
	if r.PIDNS != 0 && r.PIDNS != selfPIDNS {
		return pidnsInUse(r.PIDNS, r.PIDNSID)
	}
	start, err := startTicks(r.PID)
	return err == nil && start == r.StartTicks
}

var selfPIDNS = func() uint64 {
	var st unix.Stat_t
	unix.Stat("/proc/self/ns/pid", &st)
	return st.Ino
}()

var selfPIDNSID, _ = nsthread.UniqueIDAt("/proc/self/ns/pid")

// pidnsInUse reports whether some process is in the PID namespace with
// inode ino (and, where known, unique id uid: the inode number alone may
// have been given to a newer PID namespace).
func pidnsInUse(ino, uid uint64) bool {
	found := false
	readDir("/proc", make([]byte, 16<<10), func(name string) bool {
		var st unix.Stat_t
		if name[0] < '0' || name[0] > '9' || unix.Fstatat(procFd, name+"/ns/pid", &st, 0) != nil || st.Ino != ino {
			return true
		}
		got, ok := nsthread.UniqueIDAt("/proc/" + name + "/ns/pid")
		found = uid == 0 || !ok || got == uid
		return !found
	})
	return found
}

// startTicks returns field 22 of /proc/PID/stat: the process start time in
// clock ticks after boot.
func startTicks(pid int) (uint64, error) {
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

var selfStart = func() uint64 { t, _ := startTicks(os.Getpid()); return t }()

func recordPath(name string) string { return filepath.Join(RecordDir(), name+".json") }

// claimRecord writes the owner record for name and fails with an error
// matching os.ErrExist if one is there already. The content is written to a
// temporary file and linked into place, so the record appears complete or
// not at all, and the link claims the name atomically.
func claimRecord(r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(RecordDir(), ".tmp-*")
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

// replaceRecord overwrites the record for r.Name (write, then rename).
func replaceRecord(r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp := filepath.Join(RecordDir(), ".tmp-"+r.Name)
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write owner record: %w", err)
	}
	if err := os.Rename(tmp, recordPath(r.Name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write owner record: %w", err)
	}
	return nil
}

// removeOwned removes what this module keeps beside the namespace called
// name: its /etc/netns/NAME directory if EtcDir made it (a directory the
// user wrote is never touched), then its owner record.
func removeOwned(name string) error {
	r, err := ReadRecord(name)
	if err != nil {
		return removeRecord(name) // none, or unreadable
	}
	if r.Etc {
		if err := os.RemoveAll(filepath.Join(mountns.EtcDir, name)); err != nil {
			return fmt.Errorf("remove %s/%s: %w", mountns.EtcDir, name, err)
		}
	}
	return removeRecord(name)
}

func removeRecord(name string) error {
	err := os.Remove(recordPath(name))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove owner record: %w", err)
	}
	return nil
}

// ReadRecord returns the owner record of the namespace called name; the
// error matches os.ErrNotExist if this module did not make it.
func ReadRecord(name string) (Record, error) {
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

// Records returns the owner records of every namespace this module made
// that has not been removed, sorted by name.
func Records() ([]Record, error) {
	entries, err := os.ReadDir(RecordDir())
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
		r, err := ReadRecord(name)
		if err != nil {
			continue // removed meanwhile, or unreadable: not ours to judge
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Sweep removes the namespaces this module made whose owner process has
// died and that were not kept: processes inside are killed first, then the
// name is unmounted and removed, then the record. It never touches a
// namespace without a record. With dryRun it only reports what it would
// remove. It returns the records of the namespaces removed (or to remove).
func Sweep(dryRun bool) ([]Record, error) {
	recs, err := Records()
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
			if err := removeLeftover(r.Name); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		swept = append(swept, r)
	}
	return swept, errors.Join(errs...)
}

// removeLeftover deletes a namespace whose owner died, including a bare file
// never mounted (a crash between create and mount), and its record.
func removeLeftover(name string) error {
	err := DeleteNamed(name)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if err != nil {
		return err
	}
	return removeOwned(name)
}
