package runner

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/nsthread"
	"github.com/nsrun/nsrun/runner/internal/reaper"
	"golang.org/x/sys/unix"
)

// DefaultGrace is how long Run waits after a SIGTERM (forwarded, timeout or
// context) before it kills the whole tree with SIGKILL.
const DefaultGrace = 10 * time.Second

// Cmd is a command to run inside a network namespace. Set its fields
// between Command and Start; like exec.Cmd it runs once.
type Cmd struct {
	// Args is the command line; Args[0] is looked up in the PATH of Env,
	// inside the new mount namespace, as the payload's user will see it.
	Args []string
	// Env is the payload's environment; nil means os.Environ(). With a
	// User that has a passwd entry, HOME, USER and LOGNAME are set for it.
	Env []string
	// Dir is the working directory; empty means the caller's.
	Dir string
	// Stdin, Stdout and Stderr are as in exec.Cmd; nil means /dev/null.
	// When Stdin is the terminal and the caller is its foreground process
	// group, the payload becomes the foreground group until it ends.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// User is who the payload runs as; nil keeps the caller's credentials.
	User *User
	// Hostname, if set, gives the payload a new UTS namespace with it.
	Hostname string
	// NoPIDNamespace runs the payload without a PID namespace or reaper,
	// exactly as `ip netns exec` would: processes it leaves behind survive.
	NoPIDNamespace bool
	// Expose lists more namespaces (a topology's other nodes, say) that
	// stay visible by name inside. With a PID namespace the payload gets a
	// private namespace directory (and owner record directory): the names
	// it sees are its own namespace's, Expose's and those it makes, which
	// vanish with it.
	Expose []*nsrun.Namespace
	// Timeout, if positive, makes Run stop the payload after it (SIGTERM,
	// then SIGKILL after Grace) and report Status.TimedOut.
	Timeout time.Duration
	// Grace is how long Run waits after SIGTERM before SIGKILL; zero means
	// DefaultGrace.
	Grace time.Duration

	netns    string           // the namespace's name
	ns       *nsrun.Namespace // nil until Enter, for a CommandNamed
	enter    *os.File         // our end of the reaper's namespace socket, until Enter
	cmd      *exec.Cmd
	ctty     *os.File      // non-nil when the payload took the terminal
	ready    chan struct{} // closed once signals reach the payload
	reports  chan reaper.Report
	timedOut atomic.Bool
	killed   atomic.Bool
}

// Command returns a Cmd that runs name with arg inside ns. The namespace
// must stay open until Wait returns; the caller still owns it.
func Command(ns *nsrun.Namespace, name string, arg ...string) *Cmd {
	return &Cmd{Args: append([]string{name}, arg...), netns: ns.Name(), ns: ns}
}

// CommandNamed returns a Cmd that runs name with arg inside the namespace
// that will be called netns, so that its reaper can start (Start) while the
// namespace is still being made, and Enter hands the namespace over. The
// payload itself starts only after Enter. Use it with a PID namespace: with
// NoPIDNamespace, the namespace's name may be missing from the payload's
// view of the namespace directory.
func CommandNamed(netns, name string, arg ...string) *Cmd {
	return &Cmd{Args: append([]string{name}, arg...), netns: netns}
}

// Start starts the reaper (or, with NoPIDNamespace, the trampoline that
// becomes the payload) and returns without waiting. The reaper starts in
// the caller's network namespace and joins the command's own, on its main
// thread, once Enter hands it over; for a Cmd from Command, Start does that
// at once. A Cmd from CommandNamed that is never entered must be ended with
// Kill and Wait. An error is an *Error.
func (c *Cmd) Start() error {
	if c.cmd != nil {
		return failed("start %s: already started", c.name())
	}
	if len(c.Args) == 0 || c.Args[0] == "" {
		return &Error{Code: CodeNotFound, Err: errors.New("start: no command")}
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		return failed("create report pipe: %w", err)
	}
	enter, enterChild, err := socketPair()
	if err != nil {
		_ = repR.Close()
		_ = repW.Close()
		return failed("create namespace socket: %w", err)
	}
	cmd := c.reaperCmd(repW, enterChild)
	err = cmd.Start()
	_ = repW.Close()
	_ = enterChild.Close()
	if err != nil {
		_ = repR.Close()
		_ = enter.Close()
		c.restoreTerminal() // a child that failed to exec may have taken it
		return failed("start %s in %s: %w", c.name(), c.netns, err)
	}
	c.cmd, c.enter = cmd, enter
	c.ready, c.reports = make(chan struct{}), make(chan reaper.Report, 1)
	go readReport(repR, c.ready, c.reports)
	if c.ns == nil {
		return nil
	}
	return c.Enter(c.ns)
}

// abort ends a reaper that was not entered after err, and returns the
// reaper's own error if it reported one (it failed before Enter), else err.
func (c *Cmd) abort(err error) error {
	_ = c.cmd.Process.Kill()
	if _, werr := c.Wait(); werr != nil {
		return werr
	}
	return err
}

// socketPair returns the two ends of a unix socket (close-on-exec) that
// carries the namespace to the reaper.
func socketPair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "netns"), os.NewFile(uintptr(fds[1]), "netns"), nil
}

// Enter hands ns, which must be the namespace named at CommandNamed, to the
// started reaper, which joins it, checks that it did by inode, prepares
// the mount namespace and starts the payload. It is called once, after
// Start and before Wait (Start calls it for a Cmd from Command). On error
// the reaper is ended and waited for, and the error, an *Error, is the
// reaper's own if it failed before Enter.
func (c *Cmd) Enter(ns *nsrun.Namespace) error {
	if c.enter == nil || c.cmd == nil {
		return failed("enter %s: not started, or entered already", c.netns)
	}
	defer func() {
		_ = c.enter.Close()
		c.enter = nil
	}()
	if ns.Name() != c.netns {
		return c.abort(failed("enter %s: the command was started for %s", ns.Name(), c.netns))
	}
	fd := ns.Fd()
	id, err := nsthread.Fstat(fd)
	if err != nil {
		return c.abort(failed("enter %s: %w", c.netns, err))
	}
	c.ns = ns
	msg := fmt.Sprintf("%d %d", id.Dev, id.Ino)
	if err := unix.Sendmsg(int(c.enter.Fd()), []byte(msg), unix.UnixRights(fd), nil, unix.MSG_NOSIGNAL); err != nil {
		return c.abort(failed("enter %s: send namespace to reaper: %w", c.netns, err))
	}
	return nil
}

// name is the command's name for messages.
func (c *Cmd) name() string {
	if len(c.Args) == 0 {
		return "command"
	}
	return c.Args[0]
}

// reaperCmd builds the re-execution of this binary that becomes PID 1.
// Everything the reaper needs travels in its argv, environment (the
// payload's) and working directory, except the network namespace, which
// Enter sends on the socket enter (the reaper's fd 4).
func (c *Cmd) reaperCmd(rep, enter *os.File) *exec.Cmd {
	c.ctty = foregroundTTY(c.Stdin)
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: c.spec().Argv(), Env: userEnv(env, c.User), Dir: c.Dir}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Stdin, c.Stdout, c.Stderr
	cmd.ExtraFiles = []*os.File{rep, enter}
	flags := uintptr(syscall.CLONE_NEWNS)
	if !c.NoPIDNamespace {
		flags |= syscall.CLONE_NEWPID
	}
	if c.Hostname != "" {
		flags |= syscall.CLONE_NEWUTS
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: flags, Pdeathsig: syscall.SIGKILL}
	if c.NoPIDNamespace {
		// The process becomes the payload: its own group now, no death
		// signal (as ip netns exec), and a daemon it leaves behind may hold
		// our output pipes for ever.
		cmd.SysProcAttr.Pdeathsig = 0
		cmd.SysProcAttr.Setpgid = true
		if c.ctty != nil {
			cmd.SysProcAttr.Foreground, cmd.SysProcAttr.Ctty = true, int(c.ctty.Fd())
		}
		cmd.WaitDelay = time.Second
	}
	return cmd
}

// spec describes the payload for the reaper.
func (c *Cmd) spec() reaper.Spec {
	s := reaper.Spec{
		Netns: c.netns, Hostname: c.Hostname, PIDNamespace: !c.NoPIDNamespace,
		Foreground: c.ctty != nil && !c.NoPIDNamespace, Args: c.Args,
	}
	if c.User != nil {
		s.Cred = &syscall.Credential{Uid: c.User.UID, Gid: c.User.GID, Groups: c.User.Groups}
	}
	if !c.NoPIDNamespace {
		s.NetnsDir, s.RecordDir = nsrun.Dir(), nsrun.RecordDir()
		for _, ns := range c.Expose {
			if ns != nil && ns.Name() != c.netns {
				s.Expose = append(s.Expose, ns.Name())
			}
		}
	}
	return s
}

// readReport reads the reaper's report pipe: "ready" once it forwards
// signals (or EOF, when it exec'd the payload or died), then the report.
// ready is closed in every case; a reaper that never reports yields the
// zero report.
func readReport(r *os.File, ready chan<- struct{}, out chan<- reaper.Report) {
	defer r.Close()
	br := bufio.NewReader(r)
	line, err := br.ReadString('\n')
	if err == nil && line == reaper.ReadyLine {
		close(ready)
		ready = nil
		line, err = br.ReadString('\n')
	}
	if ready != nil {
		close(ready)
	}
	var rep reaper.Report
	if err == nil {
		rep = reaper.DecodeReport(line)
	}
	out <- rep
}

// Signal sends sig to the payload's process group (through the reaper,
// which forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT). Until the payload
// runs and the reaper listens, which takes a few milliseconds after Start,
// Signal waits, so that no signal is lost; SIGKILL goes at once.
func (c *Cmd) Signal(sig syscall.Signal) error {
	if c.cmd == nil || c.cmd.Process == nil {
		return failed("signal %s: not started", c.name())
	}
	if sig != syscall.SIGKILL {
		<-c.ready
	}
	if c.NoPIDNamespace {
		return syscall.Kill(-c.cmd.Process.Pid, sig)
	}
	return c.cmd.Process.Signal(sig)
}

// Kill kills the whole tree with SIGKILL: the reaper, and so, by the
// kernel, every process in its PID namespace.
func (c *Cmd) Kill() error {
	c.killed.Store(true)
	return c.Signal(syscall.SIGKILL)
}

// Wait waits for the payload to end and every process it left to be gone,
// and hands the terminal back. The error is an *Error when the payload
// could not be run, or when the runner failed.
func (c *Cmd) Wait() (Status, error) {
	if c.cmd == nil {
		return Status{}, failed("wait %s: not started", c.name())
	}
	werr := c.cmd.Wait()
	rep := <-c.reports
	c.restoreTerminal()
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) && !errors.Is(werr, exec.ErrWaitDelay) {
		return Status{}, failed("wait %s: %w", c.name(), werr)
	}
	if rep.Err != "" {
		return Status{}, &Error{Code: rep.Code, Err: errors.New(rep.Err)}
	}
	st := statusOf(c.cmd.ProcessState.Sys().(syscall.WaitStatus))
	if rep.Done {
		st = Status{Code: rep.Code, Signal: syscall.Signal(rep.Signal)}
	}
	st.TimedOut, st.Killed = c.timedOut.Load(), c.killed.Load()
	return st, nil
}

// Pid returns the pid (in the caller's PID namespace) of the reaper, or of
// the payload itself with NoPIDNamespace; 0 before Start.
func (c *Cmd) Pid() int {
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}
