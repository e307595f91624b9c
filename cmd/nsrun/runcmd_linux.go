package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/nsname"
	"github.com/nsrun/nsrun/internal/owner"
	"github.com/nsrun/nsrun/internal/reexec"
	"github.com/nsrun/nsrun/runner"
)

// runCmd is the default command: nsrun [flags] [--] COMMAND [ARG...].
func (a *app) runCmd(ctx context.Context, args []string) int {
	var o runOpts
	fs := flagSet("nsrun")
	o.register(fs, a)
	o.registerRun(fs)
	if code, done := a.parse(fs, args, runUsage); done {
		return code
	}
	argv := fs.Args()
	if len(argv) == 0 {
		return a.fail(usageError{"no command given", "nsrun"})
	}
	if err := o.check(); err != nil {
		return a.fail(usageError{err.Error(), "nsrun"})
	}
	if rootless() {
		return a.runRootless(&o, args)
	}
	u, err := o.resolveUser()
	if err != nil {
		return a.fail(err)
	}
	// os checks once whether pidfds work, forking a child to see; finding
	// a process does that check, here in parallel with what follows rather
	// than on the way to starting the reaper.
	go func() {
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			_ = p.Release()
		}
	}()
	// Catch signals before anything exists, so none can kill us halfway.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, reexec.Forwarded()...)
	defer signal.Stop(sigs)
	return a.runIn(ctx, &o, argv, u, sigs)
}

// runIn creates the session, runs argv in it, and tears it down (or keeps
// it). It returns the exit code.
func (a *app) runIn(ctx context.Context, o *runOpts, argv []string, u *account, sigs chan os.Signal) int {
	sum := newSummary(argv)
	s, c, enter, err := a.setUp(ctx, o, argv, u)
	sum.setupDone(s, o.jsonFile != "")
	if err != nil {
		err = permissionHint(err)
		sum.Error = err.Error()
		return a.report(o, sum, a.fail(err))
	}
	a.allowPing(s, u)
	capt, err := a.startCapture(o, s) // --capture: nil without it
	if err != nil && enter != nil {
		_ = c.Kill() // end the early reaper, which waits for the namespace
		_, _ = c.Wait()
	} else if enter != nil {
		err = enter(s.ns) // on failure, the reaper is gone
	}
	var st runner.Status
	if err == nil {
		st, err = c.Run(ctx, sigs)
	}
	sum.ran(st, err)
	code := st.ExitCode()
	if err != nil {
		code = a.fail(err)
	}
	a.saveCapture(capt, o, s, sum, u, code)
	if code != 0 {
		a.failed(o, s, sum)
		a.gatherEvidence(o, s, sum)
	}
	if err := a.end(o, s); err != nil {
		sum.Error = err.Error()
		code = a.fail(fmt.Errorf("%w (the command ended with %s)", err, st))
	}
	return a.report(o, sum, code)
}

// setUp sweeps the leftovers of dead runs and creates the session and the
// command to run in it. With one namespace the command's reaper starts
// first, and the sweep and the namespace are made while it starts up,
// which hides them; enter, non-nil then, hands it the namespace. One
// goroutine does it all in turn: goroutines for the sweep and the namespace
// overlapped nothing the reaper's start does not already hide, and their
// thread wake-ups made a run 2-3 ms slower on a 2-CPU VM. The sweep comes
// before the namespace, so that a dead run's namespace of the name asked
// for with --name is gone before New wants it. On error nothing is left,
// neither session nor reaper.
func (a *app) setUp(ctx context.Context, o *runOpts, argv []string, u *account) (*session, *runner.Cmd, func(*nsrun.Namespace) error, error) {
	var early *runner.Cmd
	var enter func(*nsrun.Namespace) error
	if o.topology == "" && !o.noPID {
		if o.name == "" {
			o.name = nsname.Random(nsname.DefaultPrefix)
		}
		early, enter = o.earlyCommand(a, o.name, argv, u)
		if err := early.Start(); err != nil {
			return nil, nil, nil, err
		}
	}
	a.sweep()
	s, err := a.newSession(ctx, o)
	switch {
	case err != nil:
		if early != nil {
			_ = early.Kill() // the namespace is not there: end the waiting reaper
			_, _ = early.Wait()
		}
		return nil, nil, nil, err
	case early != nil:
		return s, early, enter, nil
	}
	return s, o.command(a, s, argv, u), nil, nil
}

// sweep removes leftovers of runs whose owner died, as every run does first.
// A failure here is worth a warning, not a failed run.
func (a *app) sweep() {
	swept, err := owner.Sweep(false, nsrun.DeleteNamed)
	for _, r := range swept {
		a.logf("removed leftover namespace %s (owner pid %d is gone)", r.Name, r.PID)
	}
	if err != nil {
		a.mu.Lock()
		defer a.mu.Unlock()
		fmt.Fprintf(a.stderr, "nsrun: warning: remove leftovers: %s\n", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
}

// end tears the session down, or with --keep leaves it up and says how to
// enter and remove it.
func (a *app) end(o *runOpts, s *session) error {
	if !o.keep {
		if err := s.teardown(); err != nil {
			return err
		}
		a.logf("removed %s", s.what)
		return nil
	}
	if err := s.keep(); err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "nsrun: kept %s\n", s.what)
	fmt.Fprintf(a.stderr, "  enter:  sudo nsrun exec %s -- $SHELL   (or: sudo ip netns exec %s $SHELL)\n", s.ns.Name(), s.ns.Name())
	fmt.Fprintf(a.stderr, "  remove: sudo nsrun down %s\n", s.downName)
	return nil
}

// report writes the --json summary, if asked for, and, if the run failed,
// the step summary (see stepsummary_linux.go); it returns code.
func (a *app) report(o *runOpts, sum *summary, code int) int {
	if o.jsonFile != "" {
		sum.finish(code, o.keep)
		if err := sum.write(o.jsonFile); err != nil {
			code = a.fail(err)
		}
	}
	a.stepSummary(o, sum, code)
	return code
}

// permissionHint says what to do about a permission error.
func permissionHint(err error) error {
	if !errors.Is(err, os.ErrPermission) {
		return err
	}
	return fmt.Errorf("%w (nsrun needs root, or CAP_SYS_ADMIN and CAP_NET_ADMIN: run it with sudo; in a container, --privileged)", err)
}
