package runner

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/nsrun/nsrun/internal/mountns"
	"golang.org/x/sys/unix"
)

// reaperMarker is argv[0] of a re-executed reaper; ps shows it as such.
const reaperMarker = "nsrun-reaper"

// Forwarded lists the signals the reaper passes on to the payload's group.
var Forwarded = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// init turns this process into a reaper when it was started as one. It runs
// before the importing program's own code, which never runs in a reaper.
func init() {
	if len(os.Args) > specFields && os.Args[0] == reaperMarker {
		// Not os.Exit: its exit hooks (the race detector's one-second
		// sleep, coverage files) belong to the program, not to a reaper.
		syscall.Exit(reap())
	}
}

// reap is the reaper's main: prepare the namespace, run the payload,
// report. The returned value is the reaper's exit code.
func reap() int {
	syscall.CloseOnExec(3)
	rep := os.NewFile(3, "report")
	if parentGone(3) {
		return CodeFailed // nobody left to report to, nor to run for
	}
	s, err := parseSpec(os.Args)
	if err != nil {
		return sendReport(rep, report{Code: CodeFailed, Err: err.Error()})
	}
	// Registering takes a new thread, a few hundred microseconds: do it
	// while the namespace is prepared; supervise waits for it. A signal that
	// comes earlier ends the reaper, and so the run (exit status 2).
	sigs, notified := make(chan os.Signal, 16), make(chan struct{})
	if s.PIDNamespace {
		go func() {
			signal.Notify(sigs, Forwarded...)
			close(notified)
		}()
	}
	if err := prepare(s); err != nil {
		return sendReport(rep, report{Code: CodeFailed, Err: err.Error()})
	}
	path, err := exec.LookPath(s.Args[0])
	if err != nil {
		err = fmt.Errorf("run %s: %w", s.Args[0], unwrapExec(err))
		return sendReport(rep, report{Code: execCode(err), Err: err.Error()})
	}
	if !s.PIDNamespace {
		return sendReport(rep, execPayload(path, s))
	}
	return sendReport(rep, supervise(path, s, rep, sigs, notified))
}

// parentGone reports whether the read end of the report pipe is closed: the
// parent died before PR_SET_PDEATHSIG was set in the reaper, a window the
// kernel's death signal does not cover.
func parentGone(fd int) bool {
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	n, err := unix.Poll(p, 0)
	return err == nil && n == 1 && p[0].Revents&unix.POLLERR != 0
}

// prepare sets up the mount (and UTS) namespace the reaper was cloned into.
func prepare(s spec) error {
	if err := mountns.Prepare(s.Netns, os.Stderr); err != nil {
		return fmt.Errorf("prepare mount namespace: %w", err)
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
func supervise(path string, s spec, rep *os.File, sigs <-chan os.Signal, notified <-chan struct{}) report {
	attr := &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Foreground: s.Foreground, Credential: s.Cred},
	}
	pid, err := syscall.ForkExec(path, s.Args, attr)
	if err != nil {
		return report{Code: execCode(err), Err: fmt.Sprintf("run %s: %v", s.Args[0], err)}
	}
	<-notified
	_, _ = rep.WriteString(readyLine)
	done := make(chan syscall.WaitStatus, 1)
	go reapUntil(pid, done)
	for {
		select {
		case sig := <-sigs:
			_ = syscall.Kill(-pid, sig.(syscall.Signal))
		case ws := <-done:
			st := statusOf(ws)
			return report{Done: true, Code: st.Code, Signal: int(st.Signal)}
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
func execPayload(path string, s spec) report {
	if err := dropPrivileges(s.Cred); err != nil {
		return report{Code: CodeFailed, Err: err.Error()}
	}
	err := syscall.Exec(path, s.Args, os.Environ())
	return report{Code: execCode(err), Err: fmt.Sprintf("run %s: %v", s.Args[0], err)}
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
func sendReport(w *os.File, rep report) int {
	_, _ = w.WriteString(rep.encode())
	_ = w.Close()
	if rep.Err != "" {
		return rep.Code
	}
	return Status{Code: rep.Code, Signal: syscall.Signal(rep.Signal)}.ExitCode()
}
