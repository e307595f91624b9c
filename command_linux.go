package nsrun

import (
	"context"
	"fmt"
	"os/exec"

	"github.com/nsrun/nsrun/internal/reexec"
	"golang.org/x/sys/unix"
)

var errNoDevice = unix.ENODEV

// Command returns an *exec.Cmd that runs the named program inside the
// namespace, with `ip netns exec` semantics: a private mount namespace in
// which /sys shows the namespace's links and each /etc/netns/NAME/X is bound
// over /etc/X (and the hostname is set, see WithHostname). The program is
// looked up in PATH now, as exec.Command does.
//
// The Cmd can be changed (Env, Dir, Stdout, SysProcAttr, ...) and started
// from any goroutine. It starts through a trampoline: this very binary is
// re-executed with Args[0] set to a marker, and the init function of the
// module's internal reexec package (which this package imports) joins the
// namespace, prepares the mount namespace and execs the program before
// anything else of the binary runs. A failure there is reported on the
// command's Stderr with exit code 125, or 126 or 127 if the program could
// not be executed or was not found. So for a brief moment after Start the
// process is this binary, outside the namespace; Args holds the
// trampoline's arguments, not only the program's (appending to Args still
// passes arguments to the program). Replace Path or Args wholesale and the
// trampoline is lost.
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
	s := reexec.Spec{Mode: reexec.ModeExec, Netns: n.name, NetnsPath: n.path, Hostname: n.hostname,
		Path: cmd.Path, Args: cmd.Args}
	cmd.Path, cmd.Args = reexec.Self, s.Argv()
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
