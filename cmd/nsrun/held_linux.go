package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// A rootless nsrun up cannot leave its namespaces in the host's `ip netns`
// directory: they live in a private mount namespace, inside a user
// namespace, which ends with its last process. So a rootless up leaves one
// process behind, the holder: the root of that rootless run, which keeps
// the run alive and serves the user's later nsrun exec, down and ls calls
// on a unix socket, running each as a child of its own (inside the run)
// with the caller's stdio, environment and working directory. Each held run
// is two files in the user's runs directory (see runsDir): NAME.json (a
// heldRun) and NAME.sock.

// heldRun describes one rootless topology kept up by its holder.
type heldRun struct {
	Name       string            `json:"name"`       // topology name
	PID        int               `json:"pid"`        // the holder
	Start      uint64            `json:"start"`      // its start time, in clock ticks since boot
	File       string            `json:"file"`       // the topology file, absolute
	Namespaces map[string]string `json:"namespaces"` // node name -> namespace name
	Created    time.Time         `json:"created"`
}

// holdEnv carries the socket path from a rootless nsrun up to the holder it
// starts.
const holdEnv = "NSRUN_HOLD"

// runsDir returns the directory of the calling user's rootless runs,
// $XDG_RUNTIME_DIR/nsrun when XDG_RUNTIME_DIR is set, else
// /tmp/nsrun-UID, creating it (mode 0700) when create is set. It refuses a
// directory that another user owns or that others can write, and a
// symbolic link, as anyone can create one in /tmp.
func runsDir(create bool) (string, error) {
	uid := os.Getuid()
	base := os.Getenv("XDG_RUNTIME_DIR")
	dir := filepath.Join(base, "nsrun")
	if base == "" || !filepath.IsAbs(base) {
		dir = filepath.Join(os.TempDir(), "nsrun-"+strconv.Itoa(uid))
	}
	if create {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("make the directory of rootless runs: %w", err)
		}
	}
	var st unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return dir, &os.PathError{Op: "lstat", Path: dir, Err: err}
	}
	switch {
	case st.Mode&unix.S_IFMT != unix.S_IFDIR:
		return "", fmt.Errorf("refuse %s as the directory of rootless runs: not a directory (remove it)", dir)
	case int(st.Uid) != uid:
		return "", fmt.Errorf("refuse %s as the directory of rootless runs: owned by uid %d, not by you (uid %d)", dir, st.Uid, uid)
	case st.Mode&0o022 != 0:
		return "", fmt.Errorf("refuse %s as the directory of rootless runs: others can write to it (chmod 700 %s)", dir, dir)
	}
	return dir, nil
}

// heldRuns returns the user's rootless runs, sorted by name, live or not
// (see alive). A missing directory means none.
func heldRuns() (dir string, runs []heldRun, err error) {
	dir, err = runsDir(false)
	if errors.Is(err, os.ErrNotExist) {
		return dir, nil, nil
	}
	if err != nil {
		return dir, nil, err
	}
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return dir, nil, err
	}
	for _, p := range names {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // removed since the glob
		}
		if err != nil {
			return dir, nil, fmt.Errorf("read rootless run: %w", err)
		}
		var r heldRun
		if err := json.Unmarshal(b, &r); err != nil || r.Name+".json" != filepath.Base(p) {
			return dir, nil, fmt.Errorf("read rootless run %s: not a run nsrun wrote (remove it)", p)
		}
		runs = append(runs, r)
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].Name < runs[j].Name })
	return dir, runs, nil
}

// alive reports whether r's holder still runs: its PID is there, started
// when the record says (a recycled PID does not count) and is not a zombie
// that its new parent has yet to reap.
func (r heldRun) alive() bool {
	p, err := procStat(r.PID)
	return err == nil && p.start == r.Start && p.state != 'Z' && p.state != 'X'
}

// sock is the path of r's socket in dir.
func (r heldRun) sock(dir string) string { return filepath.Join(dir, r.Name+".sock") }

// remove removes r's files from dir.
func (r heldRun) remove(dir string) error {
	err := os.Remove(r.sock(dir))
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	if rerr := os.Remove(filepath.Join(dir, r.Name+".json")); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}

// write records r in dir, atomically.
func (r heldRun) write(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d.tmp", r.Name, os.Getpid()))
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("record rootless run %s: %w", r.Name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, r.Name+".json")); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("record rootless run %s: %w", r.Name, err)
	}
	return nil
}

// create records r in dir, failing with an error that matches os.ErrExist
// if a record of that name is there.
func (r heldRun) create(dir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%d.tmp", r.Name, os.Getpid()))
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("record rootless run %s: %w", r.Name, err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, filepath.Join(dir, r.Name+".json")); err != nil {
		return fmt.Errorf("record rootless run %s: %w", r.Name, err)
	}
	return nil
}

// has reports whether ns is one of r's namespaces.
func (r heldRun) has(ns string) bool {
	for _, n := range r.Namespaces {
		if n == ns {
			return true
		}
	}
	return false
}

// findHeld returns the live run that holds namespace (byTopology: the
// topology) called name, with the directory it is in.
func findHeld(name string, byTopology bool) (string, heldRun, error) {
	dir, runs, err := heldRuns()
	if err != nil {
		return dir, heldRun{}, err
	}
	var known []string
	for _, r := range runs {
		if !r.alive() {
			continue
		}
		known = append(known, r.Name)
		switch {
		case r.Name == name && byTopology, !byTopology && r.has(name):
			return dir, r, nil
		case byTopology && r.has(name):
			return dir, heldRun{}, fmt.Errorf("%s is a node of the rootless topology %s: nsrun down %s removes them all", name, r.Name, r.Name)
		}
	}
	what := "namespace"
	if byTopology {
		what = "topology"
	}
	if len(known) == 0 {
		return dir, heldRun{}, fmt.Errorf("no rootless %s %s: you have no topology up (nsrun up FILE makes one; without root, nsrun exec and down reach only those)", what, name)
	}
	return dir, heldRun{}, fmt.Errorf("no rootless %s %s among your topologies (%s; nsrun ls lists their namespaces)", what, name, strings.Join(known, ", "))
}
