package main

import (
	"errors"
	"flag"
	"os"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/reexec"
	"github.com/nsrun/nsrun/internal/runnerhook"
	"github.com/nsrun/nsrun/runner"
)

// runOpts are the flags of the default command and of exec.
type runOpts struct {
	user, hostname string
	asRoot, noPID  bool
	timeout, grace time.Duration

	env []string // the command's environment, before NSRUN_* (see resolveUser)

	// default command only
	keep               bool
	jsonFile, name     string
	topology, nodeName string
	pauseOnFailure     bool
	capture            captureOpts // --capture (capture_linux.go)
}

// register adds the flags shared by the default command and exec.
func (o *runOpts) register(fs *flag.FlagSet, a *app) {
	fs.StringVar(&o.user, "user", "", "run the command as `USER[:GROUP]` (name or number)")
	fs.BoolVar(&o.asRoot, "as-root", false, "keep root, even when run through sudo")
	fs.StringVar(&o.hostname, "hostname", "", "give the command its own UTS namespace with this `name`")
	fs.DurationVar(&o.timeout, "timeout", 0, "stop the command after this `duration` (SIGTERM, then SIGKILL after --grace); exit 124")
	fs.DurationVar(&o.grace, "grace", runner.DefaultGrace, "time between SIGTERM and SIGKILL")
	fs.BoolVar(&a.verbose, "v", false, "say what is created and removed")
}

// registerRun adds the flags of the default command only.
func (o *runOpts) registerRun(fs *flag.FlagSet) {
	fs.BoolVar(&o.keep, "keep", false, "leave everything up afterwards and print how to enter and remove it")
	fs.StringVar(&o.jsonFile, "json", "", "write a summary (namespaces, addresses, exit status, durations) to `FILE`")
	fs.StringVar(&o.name, "name", "", "exact namespace `name` (default nsrun-<random>)")
	fs.StringVar(&o.topology, "topology", "", "build the topology in `FILE` (YAML or JSON) instead of one namespace")
	fs.StringVar(&o.nodeName, "node", "", "with --topology: run the command in this `node` (default: the first)")
	fs.BoolVar(&o.pauseOnFailure, "pause-on-failure", false, "when the command fails, print how to enter each namespace and wait for Enter before removing them (needs a terminal; never in CI)")
	o.capture.register(fs)
}

// check validates flag combinations.
func (o *runOpts) check() error {
	switch {
	case o.asRoot && o.user != "":
		return errors.New("--user and --as-root exclude each other")
	case o.topology == "" && o.nodeName != "":
		return errors.New("--node needs --topology")
	case o.topology != "" && o.name != "":
		return errors.New("--name cannot be used with --topology")
	case o.timeout < 0 || o.grace < 0:
		return errors.New("--timeout and --grace must not be negative")
	}
	_, err := o.capture.check()
	return err
}

// resolveUser returns who the command runs as: --user, root with
// --as-root, else the sudo caller (or nil: the current user); in a
// rootless run, the user who started it, or root with --as-root. It also sets
// o.env: for the sudo caller by default, the caller's own environment
// (PATH, virtualenv, ...) as it was before sudo reset it; else ours.
func (o *runOpts) resolveUser() (*account, error) {
	if reexec.InRootless() {
		return o.rootlessUser(), nil
	}
	o.env = os.Environ()
	switch {
	case o.asRoot:
		return nil, nil
	case o.user != "":
		return lookupUser(o.user)
	}
	u, err := sudoUser()
	if u != nil {
		if env, ok := sudoEnv(); ok {
			o.env = env
		}
	}
	return u, err
}

// command builds the runner.Cmd for argv in the session's namespace.
func (o *runOpts) command(a *app, s *session, argv []string, u *account) *runner.Cmd {
	c := runner.Command(s.ns, argv[0], argv[1:]...)
	hostname := o.hostname
	if hostname == "" {
		hostname = s.hostname
	}
	o.configure(a, c, s.env, hostname, u)
	for _, ns := range s.nodes {
		c.Expose = append(c.Expose, ns)
	}
	return c
}

// earlyCommand builds the runner.Cmd for argv in the single namespace
// called netns that is yet to be made, so that its reaper starts while the
// namespace is made; enter hands the namespace over once it is (see
// runnerhook.CommandNamed).
func (o *runOpts) earlyCommand(a *app, netns string, argv []string, u *account) (c *runner.Cmd, enter func(*nsrun.Namespace) error) {
	cmd, enter := runnerhook.CommandNamed(netns, argv)
	c = cmd.(*runner.Cmd)
	o.configure(a, c, setenv(o.env, "NSRUN_NETNS", netns), o.hostname, u)
	return c, enter
}

// configure sets what command and earlyCommand share.
func (o *runOpts) configure(a *app, c *runner.Cmd, env []string, hostname string, u *account) {
	c.Stdin, c.Stdout, c.Stderr = a.stdin, a.stdout, a.stderr
	c.Env = env
	if u != nil {
		c.Env, c.Credential, c.UserNamespace = u.env(env), u.credential(), u.nested
	}
	c.Hostname = hostname
	c.NoPIDNamespace = o.noPID
	c.Timeout, c.Grace = o.timeout, o.grace
	if c.Grace == 0 {
		c.Grace = time.Nanosecond // --grace 0: SIGKILL at once
	}
}
