package main

import (
	"fmt"
	"os"

	"github.com/nsrun/nsrun/internal/reexec"
)

// Without root, nsrun runs rootless: the default command starts nsrun
// again as the root of a rootless run (reexec.RunRootless: new user, mount
// and network namespaces, with private namespace, record and /etc/netns
// directories), which then does what nsrun does as root. The command runs
// as the user by default, through a user namespace nested in the run's;
// --as-root keeps uid 0 of the run's user namespace. up, down, exec and gc
// need root for now.

// rootless reports whether nsrun lacks the privilege to make namespaces
// and so must run rootless. The root of a rootless run never starts another.
func rootless() bool { return !reexec.RootlessRoot() && !reexec.Privileged() }

// runRootless runs this nsrun command line again as the root of a rootless
// run, with our stdio, passing signals on, and returns its exit code.
func (a *app) runRootless(o *runOpts, args []string) int {
	switch {
	case o.user != "":
		return a.fail(usageError{"--user needs root: without root the command runs as you, or with --as-root as root of the run's user namespace", "nsrun"})
	case o.keep:
		return a.fail(usageError{"--keep needs root: without root the namespaces live in the run's own user and mount namespaces, and end with it", "nsrun"})
	}
	argv := append([]string{os.Args[0]}, args...)
	code, err := reexec.RunRootless(argv, a.stdin, a.stdout, a.stderr, true)
	if err != nil {
		return a.fail(fmt.Errorf("cannot run without root: %w", err))
	}
	return code
}

// rootlessUser returns who the command runs as inside a rootless run: the
// user who started the run, through a nested user namespace (nil with
// --as-root: root of the run's user namespace). The environment is ours,
// which is the user's.
func (o *runOpts) rootlessUser() *account {
	o.env = os.Environ()
	uid, gid, ok := reexec.OuterIDs()
	if o.asRoot || !ok || uid == 0 {
		return nil
	}
	return &account{uid: uid, gid: gid, nested: true}
}

// needRoot fails a subcommand that has no rootless mode yet when nsrun
// lacks the privilege: done reports that the caller should return code.
func (a *app) needRoot(sub string) (code int, done bool) {
	if reexec.Privileged() {
		return 0, false
	}
	return a.fail(fmt.Errorf("%s needs root (sudo nsrun %s ...): without root only `nsrun [flags] -- COMMAND` runs (rootless); up, down, exec and gc do not yet", sub, sub)), true
}

// pingGroupRange is the sysctl that lets the members of a range of groups
// open ICMP echo sockets.
const pingGroupRange = "/proc/sys/net/ipv4/ping_group_range"

// allowPing lets a command that runs as the user (u nested) ping in the
// session's namespaces, as it could on the host, where ping holds a file
// capability that means nothing in a user namespace: each namespace's
// net.ipv4.ping_group_range is set to the user's group, which is gid 0 of
// the run's user namespace, where this process writes it.
func (a *app) allowPing(s *session, u *account) {
	if u == nil || !u.nested {
		return
	}
	for _, ns := range s.nodes {
		err := ns.Do(func() error { return os.WriteFile(pingGroupRange, []byte("0 0"), 0) })
		if err != nil {
			a.mu.Lock()
			fmt.Fprintf(a.stderr, "nsrun: warning: let the command ping in %s: %v\n", ns.Name(), err)
			a.mu.Unlock()
		}
	}
}
