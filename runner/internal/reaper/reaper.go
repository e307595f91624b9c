// Package reaper is the process that runner re-executes its program as: PID
// 1 of the payload's PID namespace (or, without one, the trampoline that
// becomes the payload). Its init function turns the process into the
// reaper when argv[0] is Marker. The package imports little, and of the
// module only internal/nsthread and internal/mountns, so that its init runs
// early in package initialisation, before the heavier packages of the
// program (netlink, YAML, the core, topologies), which a reaper therefore
// never initialises. runner builds the reaper's Spec and reads its Report.
package reaper

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/nsrun/nsrun/internal/mountns"
	"github.com/nsrun/nsrun/internal/nsthread"
	"golang.org/x/sys/unix"
)

// Marker is argv[0] of a re-executed reaper; ps shows it as such.
const Marker = "nsrun-reaper"

// Exit codes of failures that are not the payload's own, as env(1) uses
// them (runner exports them as its own).
const (
	CodeFailed        = 125 // the reaper itself failed
	CodeNotExecutable = 126 // the command was found but could not be executed
	CodeNotFound      = 127 // the command was not found
)

// Forwarded lists the signals the reaper passes on to the payload's group.
var Forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// init turns this process into a reaper when it was started as one. It runs
// before the importing program's own code, which never runs in a reaper.
func init() {
	if len(os.Args) > specFields && os.Args[0] == Marker {
		// Not os.Exit: its exit hooks (the race detector's one-second
		// sleep, coverage files) belong to the program, not to a reaper.
		syscall.Exit(reap())
	}
}

// reap is the reaper's main: wait for the namespace, join it, prepare the
// mount namespace, run the payload, report. The returned value is the
// reaper's exit code.
func reap() int {
	syscall.CloseOnExec(3)
	syscall.CloseOnExec(4)
	rep := os.NewFile(3, "report")
	if parentGone(3) {
		return CodeFailed // nobody left to report to, nor to run for
	}
	s, err := ParseSpec(os.Args)
	if err != nil {
		return sendReport(rep, Report{Code: CodeFailed, Err: err.Error()})
	}
	// Registering takes a new thread, a few hundred microseconds: do it
	// while the namespace is made and prepared; supervise waits for it. A
	// signal that comes earlier ends the reaper, and so the run (exit
	// status 2).
	sigs, notified := make(chan os.Signal, 16), make(chan struct{})
	if s.PIDNamespace {
		go func() {
			signal.Notify(sigs, Forwarded...)
			close(notified)
		}()
	}
	// What does not depend on the network namespace is done while it is
	// being made; sysfs and the namespace's own name wait for it.
	if err := premount(s); err != nil {
		return sendReport(rep, Report{Code: CodeFailed, Err: err.Error()})
	}
	nsfd, err := join(4)
	if err != nil {
		return sendReport(rep, Report{Code: CodeFailed, Err: err.Error()})
	}
	if nsfd < 0 {
		return CodeFailed // the parent gave up before handing the namespace over
	}
	if err := prepare(s, nsfd); err != nil {
		return sendReport(rep, Report{Code: CodeFailed, Err: err.Error()})
	}
	_ = unix.Close(nsfd)
	path, err := exec.LookPath(s.Args[0])
	if err != nil {
		err = fmt.Errorf("run %s: %w", s.Args[0], unwrapExec(err))
		return sendReport(rep, Report{Code: execCode(err), Err: err.Error()})
	}
	if !s.PIDNamespace {
		return sendReport(rep, execPayload(path, s))
	}
	return sendReport(rep, supervise(path, s, rep, sigs, notified))
}

// join waits on the socket sock for the namespace that Enter sends (its
// device and inode, and an fd to it), then switches the calling thread, the
// main one, into it for good and verifies the switch by inode. It returns
// the namespace's fd, or -1 when the parent closed the socket instead.
func join(sock int) (int, error) {
	defer unix.Close(sock)
	var buf [64]byte
	oob := make([]byte, unix.CmsgSpace(4))
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = unix.Recvmsg(sock, buf[:], oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return -1, fmt.Errorf("receive network namespace: %w", err)
	}
	if n == 0 && oobn == 0 {
		return -1, nil
	}
	fd, err := rightsFd(oob[:oobn])
	if err != nil {
		return -1, err
	}
	want, err := parseID(string(buf[:n]))
	if err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	if err := nsthread.Join(fd, want); err != nil {
		return -1, err
	}
	return fd, nil
}

// parseID parses "DEV INO", the namespace's ID as Enter sends it.
func parseID(msg string) (nsthread.ID, error) {
	dev, ino, _ := strings.Cut(msg, " ")
	d, err := strconv.ParseUint(dev, 10, 64)
	if err == nil {
		var i uint64
		if i, err = strconv.ParseUint(ino, 10, 64); err == nil {
			return nsthread.ID{Dev: d, Ino: i}, nil
		}
	}
	return nsthread.ID{}, fmt.Errorf("receive network namespace: parse %q: %w", msg, err)
}

// rightsFd returns the one fd passed in the control message oob.
func rightsFd(oob []byte) (int, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil || len(msgs) != 1 {
		return -1, fmt.Errorf("receive network namespace: no fd (%v)", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
		return -1, fmt.Errorf("receive network namespace: want one fd (%v)", err)
	}
	return fds[0], nil
}

// parentGone reports whether the read end of the report pipe is closed: the
// parent died before PR_SET_PDEATHSIG was set in the reaper, a window the
// kernel's death signal does not cover.
func parentGone(fd int) bool {
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	n, err := unix.Poll(p, 0)
	return err == nil && n == 1 && p[0].Revents&unix.POLLERR != 0
}

// premount prepares what of the mount (and UTS) namespace the reaper was
// cloned into does not depend on the network namespace: every mount a
// slave, then, with a PID namespace, the private namespace and record
// directories with the exposed namespaces and a fresh /proc; the hostname.
func premount(s Spec) error {
	if err := unix.Mount("", "/", "none", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make mounts slave: %w", err)
	}
	if s.PIDNamespace {
		if err := privatize(s); err != nil {
			return err
		}
		flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
		if err := unix.Mount("proc", "/proc", "proc", flags, ""); err != nil {
			return fmt.Errorf("mount /proc: %w", err)
		}
	}
	if s.Hostname != "" {
		if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
			return fmt.Errorf("set hostname: %w", err)
		}
	}
	return nil
}

// prepare finishes the mount namespace on the thread that joined the network
// namespace open as nsfd: a sysfs showing the namespace's links,
// /etc/netns/NAME bound over /etc, and, in the private namespace directory,
// the namespace's own name.
func prepare(s Spec, nsfd int) error {
	if err := mountns.Prepare(s.Netns, os.Stderr); err != nil {
		return fmt.Errorf("prepare mount namespace: %w", err)
	}
	if s.PIDNamespace && s.NetnsDir != "" {
		return bindFd(nsfd, filepath.Join(s.NetnsDir, s.Netns))
	}
	return nil
}

// unwrapExec drops exec.Error's own `exec: "name":` prefix.
func unwrapExec(err error) error {
	if ee, ok := err.(*exec.Error); ok {
		return ee.Err
	}
	return err
}

// supervise starts the payload in its own process group, forwards signals
// to that group and reaps every child until the payload is gone. Returning
// ends the reaper and so, by the kernel, whatever the payload left behind.
func supervise(path string, s Spec, rep *os.File, sigs <-chan os.Signal, notified <-chan struct{}) Report {
	attr := &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Foreground: s.Foreground, Credential: s.Cred},
	}
	pid, err := syscall.ForkExec(path, s.Args, attr)
	if err != nil {
		return Report{Code: execCode(err), Err: fmt.Sprintf("run %s: %v", s.Args[0], err)}
	}
	<-notified
	_, _ = rep.WriteString(ReadyLine)
	done := make(chan syscall.WaitStatus, 1)
	go reapUntil(pid, done)
	for {
		select {
		case sig := <-sigs:
			_ = syscall.Kill(-pid, sig.(syscall.Signal))
		case ws := <-done:
			if ws.Signaled() {
				return Report{Done: true, Signal: int(ws.Signal())}
			}
			return Report{Done: true, Code: ws.ExitStatus()}
		}
	}
}

// reapUntil waits for any child, as PID 1 must, until pid has ended.
func reapUntil(pid int, done chan<- syscall.WaitStatus) {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || got == pid {
			done <- ws
			return
		}
	}
}

// execPayload becomes the payload (no PID namespace): drop privileges and
// exec. It returns only on failure.
func execPayload(path string, s Spec) Report {
	if err := dropPrivileges(s.Cred); err != nil {
		return Report{Code: CodeFailed, Err: err.Error()}
	}
	err := syscall.Exec(path, s.Args, os.Environ())
	return Report{Code: execCode(err), Err: fmt.Sprintf("run %s: %v", s.Args[0], err)}
}

// dropPrivileges switches every thread to cred (groups, gid, then uid).
func dropPrivileges(cred *syscall.Credential) error {
	if cred == nil {
		return nil
	}
	groups := make([]int, len(cred.Groups))
	for i, g := range cred.Groups {
		groups[i] = int(g)
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("set groups: %w", err)
	}
	if err := syscall.Setgid(int(cred.Gid)); err != nil {
		return fmt.Errorf("set gid %d: %w", cred.Gid, err)
	}
	if err := syscall.Setuid(int(cred.Uid)); err != nil {
		return fmt.Errorf("set uid %d: %w", cred.Uid, err)
	}
	return nil
}

// sendReport writes rep for the parent and returns the reaper's exit code.
func sendReport(w *os.File, rep Report) int {
	_, _ = w.WriteString(rep.Encode())
	_ = w.Close()
	if rep.Signal != 0 {
		return 128 + rep.Signal
	}
	return rep.Code
}

// execCode maps an exec error to 126 or 127, like a shell.
func execCode(err error) int {
	switch {
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, os.ErrNotExist):
		return CodeNotFound
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.ENOEXEC),
		errors.Is(err, syscall.EISDIR), errors.Is(err, syscall.EPERM):
		return CodeNotExecutable
	}
	return CodeFailed
}
