package procscan

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/nsrun/nsrun/internal/nsthread"
	"golang.org/x/sys/unix"
)

// Set is a set of network namespaces.
type Set map[nsthread.ID]bool

// links returns the set as the targets of their /proc/PID/ns/net links
// ("net:[INODE]"): reading a link costs half a stat of it, and all network
// namespaces share nsfs's one device, so the inode decides.
func (ids Set) links() map[string]bool {
	out := make(map[string]bool, len(ids))
	for id := range ids {
		out[id.String()] = true
	}
	return out
}

// inNamespace reports whether any thread of process pid is in one of the
// namespaces, given as links(). A process whose main thread is elsewhere
// but one of whose threads is inside (a Go program in setns, say) counts.
// buf is scratch space.
func inNamespace(pid int, links map[string]bool, buf []byte) bool {
	base := strconv.Itoa(pid)
	if links[linkAt(base+"/ns/net", buf)] {
		return true
	}
	// A task directory's link count is 2 + its number of threads: most
	// processes have one, already checked, and need no directory read.
	var st unix.Stat_t
	if err := unix.Fstatat(procFd(), base+"/task", &st, 0); err != nil || st.Nlink <= 3 {
		return false
	}
	found := false
	ReadDir("/proc/"+base+"/task", buf[:len(buf)-64], func(tid string) bool {
		found = links[linkAt(base+"/task/"+tid+"/ns/net", buf[len(buf)-64:])]
		return !found
	})
	return found
}

// proc returns /proc, opened once and kept for the life of the process:
// calls relative to it skip resolving "/proc" each time.
var proc = sync.OnceValues(func() (int, error) {
	fd, err := unix.Open("/proc", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open /proc: %w", err)
	}
	return fd, nil
})

// procFd is proc's fd; callers have checked proc's error first.
func procFd() int { fd, _ := proc(); return fd }

// linkAt returns the target of a namespace link relative to /proc, read
// into buf, or "" if it cannot be read (the process is gone, or a zombie).
// The string shares buf's memory: use it before buf is reused.
func linkAt(rel string, buf []byte) string {
	n, err := unix.Readlinkat(procFd(), rel, buf[:64])
	if err != nil {
		return ""
	}
	return unsafe.String(&buf[0], n)
}

// ReadDir calls fn with each name in dir (but "." and "..") until fn
// returns false, reading with getdents into buf to avoid allocating.
func ReadDir(dir string, buf []byte, fn func(name string) bool) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	var names []string
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		_, _, names = unix.ParseDirent(buf[:n], -1, names[:0])
		for _, name := range names {
			if !fn(name) {
				return nil
			}
		}
	}
}

// In returns the pids of the processes with a thread in one of the
// namespaces, sorted, leaving out this process. Zombies have no namespace
// and are not listed. The host's processes are looked at in parallel, one
// share per CPU (up to scanWorkers), once there are enough of them for
// that to pay: the scan's cost grows with the host, not with the test.
func In(ids Set) ([]int, error) {
	if _, err := proc(); err != nil {
		return nil, fmt.Errorf("scan processes: %w", err)
	}
	self := os.Getpid()
	var all []int
	err := ReadDir("/proc", make([]byte, 16<<10), func(name string) bool {
		if pid, err := strconv.Atoi(name); err == nil && pid != self {
			all = append(all, pid)
		}
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("scan processes: %w", err)
	}
	links := ids.links()
	workers := min(runtime.GOMAXPROCS(0), scanWorkers, len(all)/scanShare)
	if workers <= 1 {
		pids := inShare(all, links)
		sort.Ints(pids)
		return pids, nil
	}
	found := make([][]int, workers)
	var wg sync.WaitGroup
	for w := range workers {
		// Every workers-th pid, so that each share has as many of the
		// host's big multithreaded processes as the others, roughly.
		share := make([]int, 0, len(all)/workers+1)
		for i := w; i < len(all); i += workers {
			share = append(share, all[i])
		}
		wg.Go(func() { found[w] = inShare(share, links) })
	}
	wg.Wait()
	var pids []int
	for _, f := range found {
		pids = append(pids, f...)
	}
	sort.Ints(pids)
	return pids, nil
}

// scanWorkers caps the goroutines of a scan; scanShare is the fewest
// processes worth one (below that, starting and waking goroutines costs
// more than it saves), a variable only so that tests can lower it.
const scanWorkers = 4

var scanShare = 128

// inShare returns the pids, among those given, of processes with a
// thread in one of the namespaces (given as Set.links).
func inShare(pids []int, links map[string]bool) []int {
	buf := make([]byte, 16<<10)
	var out []int
	for _, pid := range pids {
		if inNamespace(pid, links, buf) {
			out = append(out, pid)
		}
	}
	return out
}

// protected reports whether namespace id must never have its processes
// killed: the host namespace of this process, or of PID 1.
func protected(id nsthread.ID) bool {
	if _, hostID, err := nsthread.Host(); err == nil && hostID == id {
		return true
	}
	init1, err := nsthread.Stat("/proc/1/ns/net")
	return err == nil && init1 == id
}

// KillAll ends every process in the namespaces, plus the given extra pids
// (processes we started that may not have entered yet): SIGTERM, then
// SIGKILL for those still there after grace, then it waits until none is
// left. New processes that appear inside meanwhile are killed too.
// Protected namespaces are left out.
func KillAll(ids Set, extra []int, grace time.Duration) error {
	for id := range ids {
		if protected(id) {
			delete(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	deadline := time.Now().Add(grace)
	sig := unix.SIGTERM
	if grace == 0 {
		sig = unix.SIGKILL
	}
	for round := 0; ; round++ {
		pids, err := In(ids)
		if err != nil {
			return err
		}
		if round == 0 {
			pids = append(pids, extra...)
		}
		if len(pids) == 0 {
			return nil
		}
		if sig == unix.SIGTERM && time.Now().After(deadline) {
			sig = unix.SIGKILL
		}
		if round > 0 && sig == unix.SIGKILL && time.Since(deadline) > 10*time.Second {
			return fmt.Errorf("kill processes: %v still in the namespace after SIGKILL", pids)
		}
		fds := signalAll(pids, ids, sig, round == 0)
		wait := time.Until(deadline)
		if sig == unix.SIGKILL || wait < 0 {
			wait = 100 * time.Millisecond
		}
		waitExit(fds, wait)
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
}

// signalAll sends sig to each pid through a pidfd, after checking again,
// with the pidfd held, that the pid still names a process inside (so a
// recycled pid is never hit). Extra pids on the first round are signalled
// without the check. It returns the pidfds.
func signalAll(pids []int, ids Set, sig unix.Signal, first bool) []int {
	var fds []int
	var links map[string]bool
	var buf []byte
	if !first {
		links, buf = ids.links(), make([]byte, 16<<10)
	}
	for _, pid := range pids {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // gone already
		}
		if !first && !inNamespace(pid, links, buf) {
			unix.Close(fd)
			continue
		}
		if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
			unix.Close(fd)
			continue
		}
		fds = append(fds, fd)
	}
	return fds
}

// waitExit waits until every pidfd reports its process ended, or for d.
func waitExit(fds []int, d time.Duration) {
	end := time.Now().Add(d)
	pending := append([]int(nil), fds...)
	for len(pending) > 0 {
		left := time.Until(end)
		if left <= 0 {
			return
		}
		pfds := make([]unix.PollFd, len(pending))
		for i, fd := range pending {
			pfds[i] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
		}
		if _, err := unix.Poll(pfds, int(left.Milliseconds())+1); err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		pending = pending[:0]
		for _, p := range pfds {
			if p.Revents == 0 {
				pending = append(pending, int(p.Fd))
			}
		}
	}
}

// PIDNSInUse reports whether some process is in the PID namespace with
// inode ino and, where known (non-zero), unique id uid: the inode number
// alone may have been given to a newer PID namespace.
func PIDNSInUse(ino, uid uint64) bool {
	if _, err := proc(); err != nil {
		return true // cannot tell: never judge an owner dead blindly
	}
	found := false
	ReadDir("/proc", make([]byte, 16<<10), func(name string) bool {
		var st unix.Stat_t
		if name[0] < '0' || name[0] > '9' || unix.Fstatat(procFd(), name+"/ns/pid", &st, 0) != nil || st.Ino != ino {
			return true
		}
		got, ok := nsthread.UniqueIDAt("/proc/" + name + "/ns/pid")
		found = uid == 0 || !ok || got == uid
		return !found
	})
	return found
}
