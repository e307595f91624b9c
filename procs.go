package nsrun

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/nsrun/nsrun/internal/nsthread"
	"golang.org/x/sys/unix"
)

// inNamespace reports whether any thread of process pid is in namespace id.
// It reads /proc/PID/task/*/ns/net: a process whose main thread is elsewhere
// but one of whose threads is inside (a Go program in setns, say) counts.
func inNamespace(pid int, id nsthread.ID) bool {
	base := "/proc/" + strconv.Itoa(pid)
	if got, err := nsthread.Stat(base + "/ns/net"); err == nil && got == id {
		return true
	}
	f, err := os.Open(base + "/task")
	if err != nil {
		return false
	}
	tids, _ := f.Readdirnames(-1)
	f.Close()
	if len(tids) < 2 {
		return false
	}
	for _, tid := range tids {
		if got, err := nsthread.Stat(base + "/task/" + tid + "/ns/net"); err == nil && got == id {
			return true
		}
	}
	return false
}

// processesIn returns the pids of the processes with a thread in namespace
// id, sorted, leaving out this process. Zombies have no namespace and are
// not listed.
func processesIn(id nsthread.ID) ([]int, error) {
	f, err := os.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("scan processes: %w", err)
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("scan processes: %w", err)
	}
	self := os.Getpid()
	var pids []int
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid == self {
			continue
		}
		if inNamespace(pid, id) {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	return pids, nil
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

// killAll ends every process in namespace id, plus the given extra pids
// (processes we started that may not have entered it yet): SIGTERM, then
// SIGKILL for those still there after grace, then it waits until none is
// left. New processes that appear inside meanwhile are killed too.
func killAll(id nsthread.ID, extra []int, grace time.Duration) error {
	if protected(id) {
		return nil
	}
	deadline := time.Now().Add(grace)
	sig := unix.SIGTERM
	if grace == 0 {
		sig = unix.SIGKILL
	}
	for round := 0; ; round++ {
		pids, err := processesIn(id)
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
		fds := signalAll(pids, id, sig, round == 0)
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
func signalAll(pids []int, id nsthread.ID, sig unix.Signal, first bool) []int {
	var fds []int
	for _, pid := range pids {
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue // gone already
		}
		if !inNamespace(pid, id) && !first {
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
