package reexec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// RootlessEnv names the environment variable that carries ModeRootless: the
// parent sets it to "init:PID" (PID its own) for the process it starts, whose
// init (before the program's own packages) makes the run's state private and
// then sets it to "1", which every process of the run inherits: it says that
// they are inside a rootless run.
const RootlessEnv = "NSRUN_ROOTLESS"

// rootlessInside is RootlessEnv's value inside a rootless run.
const rootlessInside = "1"

// rootlessInit prefixes RootlessEnv's value for the process to set up.
const rootlessInit = "init:"

// rootlessRoot is set by init in the process it set up as ModeRootless.
var rootlessRoot bool

// RootlessRoot reports whether this process is the root of a rootless run:
// started by RunRootless and set up by this package's init, it is uid 0 of
// a new user namespace, with its own mount and network namespaces. It never
// starts another rootless run itself.
func RootlessRoot() bool { return rootlessRoot }

// InRootless reports whether this process runs inside a rootless run (it,
// or an ancestor, was started by RunRootless), whatever its uid there.
func InRootless() bool { return os.Getenv(RootlessEnv) == rootlessInside }

// Privileged reports whether this process has the capabilities that making
// network namespaces needs, CAP_SYS_ADMIN and CAP_NET_ADMIN, in effect in
// its user namespace. It asks the kernel (capget), which costs a system
// call, not a namespace.
func Privileged() bool {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return false
	}
	has := func(c int) bool { return data[c/32].Effective&(1<<(uint(c)%32)) != 0 }
	return has(unix.CAP_SYS_ADMIN) && has(unix.CAP_NET_ADMIN)
}

// OuterIDs returns the user and group that uid 0 and gid 0 of this
// process's user namespace are outside it, when each is the one id mapped
// (as RunRootless maps them): the user who started the rootless run.
func OuterIDs() (uid, gid uint32, ok bool) {
	uid, okU := outerID("/proc/self/uid_map")
	gid, okG := outerID("/proc/self/gid_map")
	return uid, gid, okU && okG
}

// outerID parses an id map that maps exactly 0 to one outside id.
func outerID(path string) (uint32, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 1 {
		return 0, false
	}
	f := strings.Fields(lines[0])
	if len(f) != 3 || f[0] != "0" || f[2] != "1" {
		return 0, false
	}
	id, err := strconv.ParseUint(f[1], 10, 32)
	return uint32(id), err == nil
}

// rootlessCmd returns the command that runs argv (this program) again as
// ModeRootless: in new user, mount and network namespaces in which the
// caller's uid and gid are 0, marked by RootlessEnv, killed if the caller
// dies. The network namespace is the run's host: the run's root can switch
// its threads back into it, which it could not into a namespace that the
// caller's user namespace owns. A detached run is not killed with the
// caller and has a session of its own instead of a process group.
func rootlessCmd(argv []string, stdin io.Reader, stdout, stderr io.Writer, detached bool) *exec.Cmd {
	env := make([]string, 0, len(os.Environ())+1)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, RootlessEnv+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, RootlessEnv+"="+rootlessInit+strconv.Itoa(os.Getpid()))
	cmd := &exec.Cmd{Path: Self, Args: argv, Env: env, Stdin: stdin, Stdout: stdout, Stderr: stderr}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:                 Spec{Mode: ModeRootless}.Cloneflags(),
		UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Geteuid(), Size: 1}},
		GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getegid(), Size: 1}},
		GidMappingsEnableSetgroups: false,
		Pdeathsig:                  syscall.SIGKILL,
		// Its own process group: a signal the terminal sends to ours is
		// then forwarded once, not delivered twice.
		Setpgid: true,
	}
	if detached {
		cmd.SysProcAttr.Pdeathsig, cmd.SysProcAttr.Setpgid, cmd.SysProcAttr.Setsid = 0, false, true
	}
	return cmd
}

// StartDetached starts this program again, with argv and env added to our
// environment, as the root of a rootless run (see RunRootless), or with
// the privilege, as itself in no new namespace, that outlives the caller: it is not killed when the caller dies and runs in a
// session of its own, with stdin /dev/null, stdout and stderr as given and
// extra as fds 3 and up. The caller may Wait for it or leave it; it is the
// run's job to end itself. Errors are as RunRootless's.
func StartDetached(argv, env []string, stdout, stderr *os.File, extra ...*os.File) (*exec.Cmd, error) {
	cmd := rootlessCmd(argv, nil, stdout, stderr, true)
	if Privileged() {
		// Root needs no user namespace: the same program, detached.
		cmd = &exec.Cmd{Path: Self, Args: argv, Env: os.Environ(), Stdout: stdout, Stderr: stderr,
			SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.ExtraFiles = extra
	if err := cmd.Start(); err != nil {
		if blocked := Detect(); blocked != nil {
			return nil, blocked
		}
		return nil, fmt.Errorf("start rootless run: %w", err)
	}
	return cmd, nil
}

// RunRootless runs this program again, with argv (os.Args, say), its
// environment and working directory, as the root of a rootless run (see
// ModeRootless), and returns its exit code, or 128+N if signal N killed
// it. stdin, stdout and stderr are passed through (as the fds themselves
// when they are files). The run has a process group of its own, and the
// signals of Forwarded are passed on to it. With terminal, if stdin is a
// terminal whose foreground process group is ours, the run's group takes
// the terminal until it ends (nsrun does, as it gives its command the
// terminal; nstest.Main does not, so that Ctrl-C still reaches go test).
// Nothing of the run outlives this process: the run is killed if the
// caller dies, and the namespaces its names live in die with it.
//
// An error means that the run could not start; when user namespaces are
// blocked it is a *BlockedError that says why, and what lifts it, on one
// line.
func RunRootless(argv []string, stdin io.Reader, stdout, stderr io.Writer, terminal bool) (int, error) {
	cmd := rootlessCmd(argv, stdin, stdout, stderr, false)
	var tty *os.File
	if terminal {
		tty = ForegroundTTY(stdin)
	}
	if tty != nil {
		cmd.SysProcAttr.Foreground, cmd.SysProcAttr.Ctty = true, 0 // the child's stdin
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, Forwarded()...)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		RestoreTTY(tty)
		if blocked := Detect(); blocked != nil {
			return CodeFailed, blocked
		}
		return CodeFailed, fmt.Errorf("start rootless run: %w", err)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				_ = cmd.Process.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	close(done)
	RestoreTTY(tty)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return CodeFailed, fmt.Errorf("wait for rootless run: %w", err)
	}
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// ForegroundTTY returns stdin if it is a terminal whose foreground process
// group is ours: only then may a program started here take the terminal
// over. A program running in the background keeps its hands off.
func ForegroundTTY(stdin io.Reader) *os.File {
	f, ok := stdin.(*os.File)
	if !ok || f == nil {
		return nil
	}
	pgrp, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
	if err != nil || pgrp != unix.Getpgrp() {
		return nil
	}
	return f
}

// RestoreTTY makes our process group tty's foreground group again after a
// child had it; we are in the background then, so SIGTTOU is ignored
// around the call, as shells do. A nil tty is left alone.
func RestoreTTY(tty *os.File) {
	if tty == nil {
		return
	}
	signal.Ignore(syscall.SIGTTOU)
	defer signal.Reset(syscall.SIGTTOU)
	_ = unix.IoctlSetPointerInt(int(tty.Fd()), unix.TIOCSPGRP, unix.Getpgrp())
}

// enterRootless is init's work in a process started by RunRootless, before
// the program's own packages are initialised: it checks that its parent is
// still there (PR_SET_PDEATHSIG does not cover a parent that died before
// the child set it), makes the run's state private (see privateState) and
// marks the environment. A failure ends the process with CodeFailed and one
// line on stderr.
func enterRootless(val string) {
	ppid, err := strconv.Atoi(strings.TrimPrefix(val, rootlessInit))
	if err != nil {
		fmt.Fprintf(os.Stderr, "nsrun: bad %s=%q (it is set by nsrun itself)\n", RootlessEnv, val)
		syscall.Exit(CodeFailed)
	}
	if os.Getppid() != ppid {
		syscall.Exit(CodeFailed) // the parent is gone: nobody to run for
	}
	if err := privateState(); err != nil {
		fmt.Fprintf(os.Stderr, "nsrun: %v\n", rootlessFailure(err))
		syscall.Exit(CodeFailed)
	}
	_ = os.Setenv(RootlessEnv, rootlessInside)
	rootlessRoot = true
}

// rootlessFailure explains err, a failure to set a rootless run up: a
// permission error in a fresh user namespace, where this process should
// hold every capability, means that it holds none (see classify).
func rootlessFailure(err error) error {
	if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
		o := observe()
		o.inside = err
		if blocked := classify(o); blocked != nil {
			return blocked
		}
	}
	return fmt.Errorf("set up rootless run: %w", err)
}

// readFirstLine returns the first line of path, trimmed; "" if unreadable.
func readFirstLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	return strings.TrimSpace(line)
}
