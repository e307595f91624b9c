package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nsrun/nsrun"
	"golang.org/x/sys/unix"
)

// registry knows the namespace files that exist now because a contender
// made them and has not removed them yet, and the name of every namespace
// CNI made (CNI picks its own names; everything else carries the run's
// prefix).
type registry struct {
	mu   sync.Mutex
	live map[string]bool
	cni  map[string]bool
}

func newRegistry() *registry {
	return &registry{live: map[string]bool{}, cni: map[string]bool{}}
}

func (r *registry) add(paths ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range paths {
		r.live[p] = true
	}
}

func (r *registry) addCNI(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live[path] = true
	r.cni[filepath.Base(path)] = true
}

func (r *registry) done(paths ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range paths {
		delete(r.live, p)
	}
}

func (r *registry) isCNI(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cni[name]
}

func (r *registry) takeLive() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.live))
	for p := range r.live {
		out = append(out, p)
	}
	clear(r.live)
	slices.Sort(out)
	return out
}

// removeNamespace removes a namespace file (or a stale plain file) as
// nsrun.DeleteNamed does, owner record included; it is not an error if it
// is gone already.
func removeNamespace(path string) error {
	if filepath.Dir(path) == nsrun.Dir() {
		if err := nsrun.DeleteNamed(filepath.Base(path)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	return detach(path)
}

// detach unmounts path until nothing is mounted there and removes it.
func detach(path string) error {
	for try := 0; ; try++ {
		err := unix.Unmount(path, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil && (!errors.Is(err, unix.EBUSY) || try > 50) {
			return fmt.Errorf("unmount %s: %w", path, err)
		}
		if err != nil {
			time.Sleep(time.Millisecond)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// recordsDir is nsrun's owner-record directory, beside nsrun.Dir().
func recordsDir() string { return filepath.Join(filepath.Dir(nsrun.Dir()), "nsrun") }

// leftover is something of this run's that should be gone, and how to remove it.
type leftover struct {
	what   string
	remove func() error
}

// leftovers lists what the run left: names in `ip netns list`, files in
// the netns directory, mounts under it, owner records, /etc/netns entries,
// child processes.
func (b *bench) leftovers() []leftover {
	var out []leftover
	if o, err := exec.Command("ip", "netns", "list").Output(); err != nil {
		out = append(out, leftover{what: fmt.Sprintf("ip netns list failed: %v", err)})
	} else {
		for _, line := range strings.Split(string(o), "\n") {
			if f := strings.Fields(line); len(f) > 0 && b.ours(f[0]) {
				p := filepath.Join(nsrun.Dir(), f[0])
				out = append(out, leftover{"ip netns list: " + f[0], func() error { return removeNamespace(p) }})
			}
		}
	}
	for _, name := range dirNames(nsrun.Dir()) {
		if b.ours(name) {
			p := filepath.Join(nsrun.Dir(), name)
			out = append(out, leftover{"file " + p, func() error { return removeNamespace(p) }})
		}
	}
	for _, m := range netnsMounts() {
		if b.ours(filepath.Base(m)) {
			out = append(out, leftover{"mount " + m, func() error { return detach(m) }})
		}
	}
	for _, dir := range []string{recordsDir(), filepath.Join(recordsDir(), "topologies")} {
		for _, name := range dirNames(dir) {
			base := strings.TrimSuffix(strings.TrimPrefix(name, ".tmp-"), ".json")
			if b.ours(base) {
				p := filepath.Join(dir, name)
				out = append(out, leftover{"owner record " + p, func() error { return os.Remove(p) }})
			}
		}
	}
	for _, name := range dirNames("/etc/netns") {
		if b.ours(name) {
			p := filepath.Join("/etc/netns", name)
			out = append(out, leftover{"directory " + p, func() error { return os.RemoveAll(p) }})
		}
	}
	for _, pid := range children() {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		out = append(out, leftover{fmt.Sprintf("child process %d (%s)", pid, strings.TrimSpace(string(comm))), func() error {
			if err := unix.Kill(pid, unix.SIGKILL); err != nil {
				return err
			}
			_, err := unix.Wait4(pid, nil, 0, nil)
			return err
		}})
	}
	return out
}

// children returns the pids of this process's children (the idle
// processes, the commands: all should have been reaped).
func children() []int {
	var pids []int
	for _, tid := range dirNames("/proc/self/task") {
		b, _ := os.ReadFile(filepath.Join("/proc/self/task", tid, "children"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// ours reports whether a namespace name (or a record's) is this run's.
func (b *bench) ours(name string) bool {
	return strings.HasPrefix(name, b.prefix) || b.reg.isCNI(name)
}

func dirNames(dir string) []string {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.Name()
	}
	return names
}

// netnsMounts returns the mount points in this process's mount table that
// are directly under the netns directory.
func netnsMounts() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if filepath.Dir(mp) == nsrun.Dir() {
			out = append(out, mp)
		}
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space, ...).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// cleanup stops the idle processes, removes what failed contenders left
// (registered), then checks for anything else of the run's: that is a
// leak, which it removes too, but reports as an error.
func (b *bench) cleanup() error {
	var errs []error
	if b.pool != nil {
		if err := b.pool.close(); err != nil {
			errs = append(errs, fmt.Errorf("idle processes: %w", err))
		}
	}
	for _, p := range b.reg.takeLive() {
		if err := removeNamespace(p); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
		}
	}
	if b.tmp != "" {
		if err := os.RemoveAll(b.tmp); err != nil {
			errs = append(errs, err)
		}
	}
	left := b.leftovers()
	if len(left) == 0 {
		return errors.Join(errs...)
	}
	var what []string
	for _, l := range left {
		what = append(what, l.what)
		if l.remove != nil {
			if err := l.remove(); err != nil {
				errs = append(errs, fmt.Errorf("remove leftover (%s): %w", l.what, err))
			}
		}
	}
	errs = append(errs, fmt.Errorf("leftover check: the run left %d things behind (removed now): %s", len(left), strings.Join(what, "; ")))
	if still := b.leftovers(); len(still) > 0 {
		what = what[:0]
		for _, l := range still {
			what = append(what, l.what)
		}
		errs = append(errs, fmt.Errorf("leftover check: still there after removal: %s", strings.Join(what, "; ")))
	}
	return errors.Join(errs...)
}
