package nsrun

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"

	"github.com/nsrun/nsrun/internal/mountns"
	"github.com/nsrun/nsrun/internal/nsthread"
	"golang.org/x/sys/unix"
)

var errNoDevice = unix.ENODEV

// execMarker is argv[0] of a trampoline process: the program re-executed by
// Command to enter the namespace before becoming the target.
const execMarker = "nsrun-netns-exec"

// Command returns an *exec.Cmd that runs the named program inside the
// namespace, with `ip netns exec` semantics: a private mount namespace in
// which /sys shows the namespace's links and each /etc/netns/NAME/X is bound
// over /etc/X (and the hostname is set, see WithHostname). The program is
// looked up in PATH now, as exec.Command does.
//
// The Cmd can be changed (Env, Dir, Stdout, SysProcAttr, ...) and started
// from any goroutine. It starts through a trampoline: this very binary is
// re-executed with Args[0] set to a marker, and a hook in this package's
// init joins the namespace and execs the program. So for a brief moment
// after Start the process is this binary, outside the namespace; Args holds
// the trampoline's arguments, not only the program's (appending to Args
// still passes arguments to the program). Replace Path or Args wholesale and
// the trampoline is lost.
//
// Processes started from a Command are killed by Delete if still running.
func (n *Namespace) Command(name string, arg ...string) *exec.Cmd {
	return n.CommandContext(context.Background(), name, arg...)
}

// CommandContext is Command with a context, as exec.CommandContext: the
// process is killed if ctx is done before it ends.
func (n *Namespace) CommandContext(ctx context.Context, name string, arg ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, arg...)
	if cmd.Err != nil {
		return cmd
	}
	target := cmd.Path
	cmd.Path = "/proc/self/exe"
	cmd.Args = append([]string{execMarker, n.path, n.name, n.hostname, target, name}, arg...)
	n.mu.Lock()
	if n.fd < 0 {
		cmd.Err = fmt.Errorf("namespace %s: %w", n.name, ErrClosed)
	}
	n.cmds = append(n.cmds, cmd)
	n.mu.Unlock()
	return cmd
}

// trackedPids returns the pids of commands started but not yet waited for.
func (n *Namespace) trackedPids() []int {
	var pids []int
	for _, c := range n.cmds {
		if c.Process != nil && c.ProcessState == nil {
			pids = append(pids, c.Process.Pid)
		}
	}
	return pids
}

// init turns this process into the program a Command asked for, when it was
// started as a trampoline. Package init runs before the importing program's
// own code, so nothing of that program runs in the trampoline.
func init() {
	if len(os.Args) < 6 || os.Args[0] != execMarker {
		return
	}
	a := os.Args
	err := nsthread.Exec(nsthread.ExecSpec{
		NetnsPath: a[1],
		Hostname:  a[3],
		Prepare:   func() error { return mountns.Prepare(a[2], os.Stderr) },
		Path:      a[4],
		Argv:      a[5:],
		Env:       os.Environ(),
	})
	fmt.Fprintf(os.Stderr, "nsrun: run %s in network namespace %s: %v\n", a[4], a[2], err)
	switch {
	case errors.Is(err, unix.ENOENT):
		os.Exit(127)
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.ENOEXEC), errors.Is(err, unix.EISDIR):
		os.Exit(126)
	}
	os.Exit(125)
}
