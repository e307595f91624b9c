package runner

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/paths"
	"github.com/nsrun/nsrun/internal/reexec"
	"github.com/nsrun/nsrun/internal/runnerhook"
)

// Cmd is a command to run inside a network namespace. Set its fields
// between Command and Start; like exec.Cmd it runs once.
type Cmd struct {
	// Args is the command line; Args[0] is looked up in the PATH of Env,
	// inside the new mount namespace, as the payload's user will see it.
	Args []string
	// Env is the payload's environment; nil means os.Environ(). It is
	// passed as it is: a caller that sets Credential sets HOME, USER and
	// LOGNAME to match.
	Env []string
	// Dir is the working directory; empty means the caller's.
	Dir string
	// Stdin, Stdout and Stderr are as in exec.Cmd; nil means /dev/null.
	// When Stdin is the terminal and the caller is its foreground process
	// group, the payload becomes the foreground group until it ends.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Credential is who the payload runs as (uid, gid and supplementary
	// groups; nil Groups means none); nil keeps the caller's.
	Credential *syscall.Credential
	// UserNamespace gives the payload Credential's uid and gid through a
	// new user namespace in which they are the caller's own, instead of
	// switching to them (supplementary groups are ignored then). Inside a
	// rootless run, whose user namespace maps only root, it is how the
	// payload runs as the user who started the run. It needs the PID
	// namespace (not NoPIDNamespace).
	UserNamespace bool
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
	ns       *nsrun.Namespace // nil until entered, for an early Cmd
	proc     *reexec.Proc
	ctty     *os.File // non-nil when the payload took the terminal
	timedOut atomic.Bool
	killed   atomic.Bool
}

// Command returns a Cmd that runs name with arg inside ns. The namespace
// must stay open until Wait returns; the caller still owns it.
func Command(ns *nsrun.Namespace, name string, arg ...string) *Cmd {
	return &Cmd{Args: append([]string{name}, arg...), netns: ns.Name(), ns: ns}
}

// init gives cmd/nsrun its early start (see runnerhook.CommandNamed).
func init() {
	runnerhook.CommandNamed = func(netns string, args []string) (any, func(*nsrun.Namespace) error) {
		c := &Cmd{Args: args, netns: netns}
		return c, c.enter
	}
}

// Start starts the reaper (or, with NoPIDNamespace, the process that
// becomes the payload) and returns without waiting. The reaper starts in
// the caller's network namespace and joins the command's own on its main
// thread, verified by inode, before it mounts sysfs or starts the payload.
// An error is an *Error; after it, the reaper is gone.
func (c *Cmd) Start() error {
	if c.proc != nil {
		return failed("start %s: already started", c.name())
	}
	if len(c.Args) == 0 || c.Args[0] == "" {
		return &Error{Code: reexec.CodeNotFound, Err: errors.New("start: no command")}
	}
	if c.UserNamespace && c.NoPIDNamespace {
		return failed("start %s: UserNamespace needs the PID namespace (NoPIDNamespace is set)", c.name())
	}
	p, err := reexec.Start(c.reaperCmd())
	if err != nil {
		c.restoreTerminal() // a child that failed to exec may have taken it
		return failed("start %s in %s: %w", c.name(), c.netns, err)
	}
	c.proc = p
	if c.ns == nil {
		return nil // an early Cmd: enter follows
	}
	return c.enter(c.ns)
}

// enter hands ns, which must be the namespace the Cmd was made for, to the
// started reaper. On error the reaper is ended and waited for, and the
// error, an *Error, is the reaper's own if it failed first.
func (c *Cmd) enter(ns *nsrun.Namespace) error {
	if c.proc == nil {
		return failed("enter %s: not started", c.netns)
	}
	if ns.Name() != c.netns {
		return c.abort(failed("enter %s: the command was started for %s", ns.Name(), c.netns))
	}
	c.ns = ns
	if err := c.proc.Enter(ns.Fd()); err != nil {
		return c.abort(failed("enter %s: %w", c.netns, err))
	}
	return nil
}

// abort ends a reaper that was not entered after err, and returns the
// reaper's own error if it reported one (it failed first), else err.
func (c *Cmd) abort(err error) error {
	_ = c.proc.Cmd.Process.Kill()
	if _, werr := c.Wait(); werr != nil {
		return werr
	}
	return err
}

// name is the command's name for messages.
func (c *Cmd) name() string {
	if len(c.Args) == 0 {
		return "command"
	}
	return c.Args[0]
}

// reaperCmd builds the re-execution of this binary that becomes PID 1 (or
// the payload). Everything it needs travels in its argv, environment (the
// payload's) and working directory, except the network namespace, which
// enter hands over.
func (c *Cmd) reaperCmd() *exec.Cmd {
	c.ctty = reexec.ForegroundTTY(c.Stdin)
	s := c.spec()
	cmd := &exec.Cmd{Path: reexec.Self, Args: s.Argv(), Env: c.Env, Dir: c.Dir}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = c.Stdin, c.Stdout, c.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: s.Cloneflags(), Pdeathsig: syscall.SIGKILL}
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
func (c *Cmd) spec() reexec.Spec {
	s := reexec.Spec{
		Mode: reexec.ModeSupervise, Netns: c.netns, Hostname: c.Hostname,
		Foreground: c.ctty != nil && !c.NoPIDNamespace, Credential: c.Credential, Args: c.Args,
		UserNS: c.UserNamespace && c.Credential != nil,
	}
	if c.NoPIDNamespace {
		s.Mode = reexec.ModeExec
		return s
	}
	s.NetnsDir, s.RecordDir = nsrun.Dir(), paths.Records()
	for _, ns := range c.Expose {
		if ns != nil && ns.Name() != c.netns {
			s.Expose = append(s.Expose, ns.Name())
		}
	}
	return s
}

// Signal sends sig to the payload's process group (through the reaper,
// which forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT). Until the payload
// runs and the reaper listens, which takes a few milliseconds after Start,
// Signal waits, so that no signal is lost; SIGKILL goes at once.
func (c *Cmd) Signal(sig syscall.Signal) error {
	if c.proc == nil {
		return failed("signal %s: not started", c.name())
	}
	if sig != syscall.SIGKILL {
		<-c.proc.Ready()
	}
	if c.NoPIDNamespace {
		return syscall.Kill(-c.proc.Cmd.Process.Pid, sig)
	}
	return c.proc.Cmd.Process.Signal(sig)
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
	if c.proc == nil {
		return Status{}, failed("wait %s: not started", c.name())
	}
	rep, werr := c.proc.Wait()
	c.restoreTerminal()
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) && !errors.Is(werr, exec.ErrWaitDelay) {
		return Status{}, failed("wait %s: %w", c.name(), werr)
	}
	if rep.Err != "" {
		return Status{}, &Error{Code: rep.Code, Err: errors.New(rep.Err)}
	}
	st := statusOf(c.proc.Cmd.ProcessState.Sys().(syscall.WaitStatus))
	if rep.Done {
		st = Status{Code: rep.Code, Signal: syscall.Signal(rep.Signal)}
	}
	st.TimedOut, st.Killed = c.timedOut.Load(), c.killed.Load()
	return st, nil
}

// Pid returns the pid (in the caller's PID namespace) of the reaper, or of
// the payload itself with NoPIDNamespace; 0 before Start.
func (c *Cmd) Pid() int {
	if c.proc == nil {
		return 0
	}
	return c.proc.Cmd.Process.Pid
}

// statusOf converts a wait status.
func statusOf(ws syscall.WaitStatus) Status {
	if ws.Signaled() {
		return Status{Signal: ws.Signal()}
	}
	return Status{Code: ws.ExitStatus()}
}
