package leakcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nsrun/nsrun/internal/nsthread"
	"github.com/nsrun/nsrun/internal/owner"
	"github.com/nsrun/nsrun/internal/paths"
)

// Baseline is what was there before the tests.
type Baseline struct{ hostLinks map[string]bool }

// take records the baseline.
func take() Baseline { return Baseline{hostLinks: dirSet("/sys/class/net")} }

func dirSet(dir string) map[string]bool {
	s := map[string]bool{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		s[e.Name()] = true
	}
	return s
}

// leaksSince describes each leftover of this process; none means nothing leaked.
func leaksSince(b Baseline) []string {
	var out []string
	if p := owner.Owned(); p != "" {
		if _, err := os.Lstat(p); err == nil {
			out = append(out, "owner file left: "+p)
		}
	}
	created := nsthread.Created()
	mountinfo, _ := os.ReadFile("/proc/self/mountinfo")
	for _, made := range created {
		path := made.Path
		name := filepath.Base(path)
		if _, err := os.Lstat(path); err == nil {
			out = append(out, "named namespace left: "+path)
		}
		if strings.Contains(string(mountinfo), " "+path+" ") {
			out = append(out, "namespace mount left: "+path)
		}
		if _, err := os.Lstat(filepath.Join(paths.Records(), name+".json")); err == nil {
			out = append(out, "owner record left: "+name)
		}
		if _, err := os.Lstat(filepath.Join(paths.Etc, name)); err == nil {
			out = append(out, "/etc/netns entry left: "+name)
		}
	}
	for pid, id := range processesIn(created) {
		out = append(out, fmt.Sprintf("process %d left in namespace %s (%v)", pid, filepath.Base(created[id].Path), id))
	}
	var links []string
	for l := range dirSet("/sys/class/net") {
		if !b.hostLinks[l] {
			links = append(links, l)
		}
	}
	if len(links) > 0 {
		sort.Strings(links)
		out = append(out, fmt.Sprintf("links left in the host namespace: %v", links))
	}
	out = append(out, TaintedThreads()...)
	sort.Strings(out)
	return out
}

// processesIn maps each process with a thread in one of the namespaces to
// that namespace. A namespace whose inode number was given to a newer one
// (made by someone else) is told apart by its unique id where the kernel
// has them.
func processesIn(ids map[nsthread.ID]nsthread.Made) map[int]nsthread.ID {
	out := map[int]nsthread.ID{}
	if len(ids) == 0 {
		return out
	}
	tasks, _ := filepath.Glob("/proc/[0-9]*/task/[0-9]*/ns/net")
	for _, p := range tasks {
		id, err := nsthread.Stat(p)
		made, ours := ids[id]
		if err != nil || !ours {
			continue
		}
		if uid, ok := nsthread.UniqueIDAt(p); ok && made.UID != 0 && uid != made.UID {
			continue // same inode number, another namespace
		}
		pid, _ := strconv.Atoi(strings.Split(p, "/")[2])
		if pid != os.Getpid() {
			out[pid] = id
		}
	}
	return out
}

// TaintedThreads describes each thread of this process that is not in the
// host network namespace.
func TaintedThreads() []string {
	_, host, err := nsthread.Host()
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	tasks, _ := filepath.Glob("/proc/self/task/[0-9]*/ns/net")
	for _, p := range tasks {
		if id, err := nsthread.Stat(p); err == nil && id != host {
			out = append(out, fmt.Sprintf("thread %s is in network namespace %v, not the host's %v", strings.Split(p, "/")[4], id, host))
		}
	}
	return out
}

// Runner is what Run needs of *testing.M.
type Runner interface{ Run() int }

// Wrap returns m as a Runner whose Run is Run(m): the tests, then the leak
// check. It is for nstest.Main, which calls Run in the process that runs
// the tests (the rootless one, when it runs them rootless), so that the
// check runs there too:
//
//	func TestMain(m *testing.M) { nstest.Main(leakcheck.Wrap(m)) }
func Wrap(m Runner) Runner { return checked{m} }

// checked is a Runner with the leak check around its Run.
type checked struct{ m Runner }

func (c checked) Run() int { return Run(c.m) }

// Run runs the tests and then checks for leaks, waiting up to two seconds
// for processes that are still exiting. It returns the exit code for
// os.Exit: the tests' own, or 1 if anything leaked.
func Run(m Runner) int {
	before := take()
	code := m.Run()
	_ = owner.Release() // what every test binary with nstest.Main does; a file still there is a leak
	var leaks []string
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if leaks = leaksSince(before); len(leaks) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, l := range leaks {
		fmt.Fprintln(os.Stderr, "LEAK:", l)
	}
	if len(leaks) > 0 && code == 0 {
		code = 1
	}
	return code
}
