package reexec

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/nsrun/nsrun/internal/nsthread"
	"golang.org/x/sys/unix"
)

// The fds of a process started by Start.
const (
	reportFd = 3 // pipe: the process's Report for its parent
	socketFd = 4 // unix socket: the network namespace from Proc.Enter
)

// init turns this process into what its Spec asks for when it was
// re-executed as Marker. It runs before the importing program's own code,
// which never runs in such a process. A process started by RunRootless
// (ModeRootless, marked in the environment) is set up here and then goes
// on as the program.
func init() {
	if len(os.Args) > 0 && os.Args[0] == Marker {
		// Not os.Exit: its exit hooks (the race detector's one-second
		// sleep, coverage files) belong to the program, not to this process.
		syscall.Exit(run(os.Args))
	}
	if v := os.Getenv(RootlessEnv); strings.HasPrefix(v, rootlessInit) {
		enterRootless(v)
	}
}

// child is the re-executed process.
type child struct {
	s   Spec
	rep *os.File // the report pipe; nil when joining by path (stderr instead)
}

// run is the re-executed process's main; it returns the exit code.
func run(argv []string) int {
	if len(argv) == 2 && argv[1] == probeWord {
		return probeChild()
	}
	s, err := parseSpec(argv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsrun: %v\n", err)
		return CodeFailed
	}
	c := &child{s: s}
	if s.NetnsPath == "" {
		syscall.CloseOnExec(reportFd)
		syscall.CloseOnExec(socketFd)
		if parentGone(reportFd) {
			return CodeFailed // nobody left to report to, nor to run for
		}
		c.rep = os.NewFile(reportFd, "report")
	}
	return c.main()
}

// main sets the process up, joins the network namespace and becomes, or
// supervises, the program.
func (c *child) main() int {
	// Registering takes a new thread, a few hundred microseconds: do it
	// while the namespace is made and prepared; supervise waits for it. A
	// signal that comes earlier ends the process, and so the run.
	sigs, notified := make(chan os.Signal, 16), make(chan struct{})
	if c.s.Mode == ModeSupervise {
		go func() {
			signal.Notify(sigs, Forwarded()...)
			close(notified)
		}()
	}
	if err := isolate(c.s); err != nil {
		return c.fail(CodeFailed, err)
	}
	if err := premount(c.s); err != nil {
		return c.fail(CodeFailed, err)
	}
	nsfd, err := c.join()
	if err != nil {
		return c.fail(CodeFailed, err)
	}
	if nsfd < 0 {
		return CodeFailed // the parent gave up before handing the namespace over
	}
	err = prepare(c.s, nsfd)
	_ = unix.Close(nsfd)
	if err != nil {
		return c.fail(CodeFailed, fmt.Errorf("prepare mount namespace: %w", err))
	}
	path, err := c.lookPath()
	if err != nil {
		return c.execFailed(err)
	}
	if c.s.Mode == ModeSupervise {
		return c.report(supervise(path, c.s, c.rep, sigs, notified))
	}
	if err := dropPrivileges(c.s.Credential); err != nil {
		return c.fail(CodeFailed, err)
	}
	return c.execFailed(syscall.Exec(path, c.s.Args, os.Environ()))
}

// join switches the calling thread, the main one, for good into the
// network namespace (by path, or as received on the socket) and returns
// an fd of it, or -1 when the parent closed the socket instead.
func (c *child) join() (int, error) {
	if c.s.NetnsPath == "" {
		return receive(socketFd)
	}
	fd, err := unix.Open(c.s.NetnsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open network namespace: %w", err)
	}
	id, err := nsthread.Fstat(fd)
	if err == nil {
		err = nsthread.Join(fd, id)
	}
	if err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// lookPath returns the program's path: Spec.Path, or Args[0] looked up in
// PATH, now that the mount namespace is the program's.
func (c *child) lookPath() (string, error) {
	if c.s.Path != "" {
		return c.s.Path, nil
	}
	path, err := exec.LookPath(c.s.Args[0])
	if ee, ok := err.(*exec.Error); ok {
		err = ee.Err // without exec.Error's own `exec: "name":` prefix
	}
	return path, err
}

// fail reports err, which kept the program from running, and returns code.
func (c *child) fail(code int, err error) int {
	if c.rep == nil {
		fmt.Fprintf(os.Stderr, "nsrun: run %s in network namespace %s: %v\n", c.s.Args[0], c.s.Netns, err)
		return code
	}
	return c.report(Report{Code: code, Err: err.Error()})
}

// execFailed reports err, the failure to look up or execute the program,
// with the exit code ExitCode gives it.
func (c *child) execFailed(err error) int {
	if c.rep != nil {
		err = fmt.Errorf("run %s: %w", c.s.Args[0], err)
	}
	return c.fail(ExitCode(err), err)
}

// report writes rep for the parent and returns the process's exit code.
func (c *child) report(rep Report) int {
	_, _ = c.rep.WriteString(rep.encode())
	_ = c.rep.Close()
	if rep.Signal != 0 {
		return 128 + rep.Signal
	}
	return rep.Code
}

// receive waits on the socket sock for the namespace that Proc.Enter sends
// (its device and inode, and an fd to it), then switches the calling thread
// into it for good and verifies the switch by inode. It returns the
// namespace's fd, or -1 when the parent closed the socket instead.
func receive(sock int) (int, error) {
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
	if err == nil {
		err = nsthread.Join(fd, want)
	}
	if err != nil {
		_ = unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// parseID parses "DEV INO", the namespace's ID as Proc.Enter sends it.
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
	if err != nil {
		return -1, fmt.Errorf("receive network namespace: %w", err)
	}
	if len(msgs) != 1 {
		return -1, fmt.Errorf("receive network namespace: %d control messages, want 1", len(msgs))
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err == nil && len(fds) != 1 {
		err = fmt.Errorf("%d fds, want 1", len(fds))
	}
	if err != nil {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
		return -1, fmt.Errorf("receive network namespace: %w", err)
	}
	return fds[0], nil
}

// parentGone reports whether the read end of the report pipe is closed: the
// parent died before PR_SET_PDEATHSIG was set in this process, a window the
// kernel's death signal does not cover.
func parentGone(fd int) bool {
	p := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	n, err := unix.Poll(p, 0)
	return err == nil && n == 1 && p[0].Revents&unix.POLLERR != 0
}

// supervise starts the program in its own process group, forwards signals
// to that group and reaps every child until the program is gone. Returning
// ends the process and so, by the kernel, whatever the program left behind.
func supervise(path string, s Spec, rep *os.File, sigs <-chan os.Signal, notified <-chan struct{}) Report {
	attr := &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Foreground: s.Foreground, Credential: s.Credential},
	}
	if s.UserNS && s.Credential != nil {
		// The ids are the program's in a user namespace of its own, in
		// which they are ours: no switch, and no supplementary groups
		// (setgroups is denied in a rootless run).
		attr.Sys.Credential = nil
		attr.Sys.Cloneflags = syscall.CLONE_NEWUSER
		attr.Sys.UidMappings = []syscall.SysProcIDMap{{ContainerID: int(s.Credential.Uid), HostID: os.Getuid(), Size: 1}}
		attr.Sys.GidMappings = []syscall.SysProcIDMap{{ContainerID: int(s.Credential.Gid), HostID: os.Getgid(), Size: 1}}
	}
	// The program gets the forwarded signals' default dispositions only
	// once they are handled here (execve resets handled signals; an
	// ignored one, as under nohup, would stay ignored, and sh cannot trap
	// a signal ignored on entry): wait for Notify before starting it.
	<-notified
	pid, err := syscall.ForkExec(path, s.Args, attr)
	if err != nil {
		return Report{Code: ExitCode(err), Err: fmt.Sprintf("run %s: %v", s.Args[0], err)}
	}
	_, _ = rep.WriteString(readyLine)
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
