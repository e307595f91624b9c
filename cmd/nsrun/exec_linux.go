package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/reexec"
)

// execCmd is nsrun exec NAME [--] COMMAND [ARG...]: run in an existing
// namespace, which is left as it was.
func (a *app) execCmd(ctx context.Context, args []string) int {
	var o runOpts
	fs := flagSet("nsrun exec")
	o.register(fs, a)
	fs.BoolVar(&o.noPID, "no-pidns", false, "no PID namespace: processes the command starts may outlive it, as with ip netns exec")
	if code, done := a.parse(fs, args, execUsage); done {
		return code
	}
	rest := fs.Args()
	if len(rest) > 0 && rest[0] == "--" {
		return a.fail(usageError{"no namespace name given", "nsrun exec"})
	}
	if len(rest) < 2 || (rest[1] == "--" && len(rest) < 3) {
		return a.fail(usageError{"usage: nsrun exec NAME [--] COMMAND [ARG...]", "nsrun exec"})
	}
	name, argv := rest[0], rest[1:]
	if argv[0] == "--" {
		argv = argv[1:]
	}
	if err := o.check(); err != nil {
		return a.fail(usageError{err.Error(), "nsrun exec"})
	}
	if rootless() {
		if o.user != "" {
			return a.fail(usageError{"--user needs root: without root the command runs as you, or with --as-root as root of the run's user namespace", "nsrun exec"})
		}
		return a.execRootless(name, args)
	}
	u, err := o.resolveUser()
	if err != nil {
		return a.fail(err)
	}
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, reexec.Forwarded()...)
	defer signal.Stop(sigs)
	ns, err := nsrun.Open(name)
	if err != nil {
		return a.fail(fmt.Errorf("open namespace: %w", err))
	}
	defer ns.Close()
	s := &session{ns: ns, env: setenv(o.env, "NSRUN_NETNS", name)}
	st, err := o.command(a, s, argv, u).Run(ctx, sigs)
	if err != nil {
		return a.fail(permissionHint(err))
	}
	return st.ExitCode()
}
