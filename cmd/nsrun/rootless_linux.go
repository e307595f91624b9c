package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"time"

	"github.com/nsrun/nsrun/internal/reexec"
)

// Without root, nsrun runs rootless: the default command starts nsrun
// again as the root of a rootless run (reexec.RunRootless: new user, mount
// and network namespaces, with private namespace, record and /etc/netns
// directories), which then does what nsrun does as root. The command runs
// as the user by default, through a user namespace nested in the run's;
// --as-root keeps uid 0 of the run's user namespace. A rootless up leaves
// a holder (see held_linux.go) that exec, down and ls reach.

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

// upHeld is nsrun up without root, or for a topology with emulated links:
// it starts nsrun up again as the holder (see held_linux.go), detached (a
// rootless run without root), passes its output on until it says that the
// topology is up (fd 3), and leaves it running. Signals that reach us
// before that go to it (it then removes what it built).
func (a *app) upHeld(args []string) int {
	dir, err := runsDir(true)
	if err != nil {
		return a.fail(err)
	}
	files, wait, err := stdioFiles(nil, a.stdout, a.stderr)
	if err != nil {
		return a.fail(err)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return a.fail(err)
	}
	defer readyR.Close()
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, reexec.Forwarded()...)
	defer signal.Stop(sigs)
	argv := append([]string{os.Args[0], "up"}, args...)
	cmd, err := reexec.StartDetached(argv, []string{holdEnv + "=" + dir}, files[1], files[2], readyW)
	_ = readyW.Close()
	wait(true)
	if err != nil {
		wait(false)
		return a.fail(fmt.Errorf("start the holder of the topology: %w", err))
	}
	go func() {
		for sig := range sigs {
			_ = cmd.Process.Signal(sig)
		}
	}()
	status, _ := io.ReadAll(readyR)
	wait(false)
	if string(status) == "ok\n" {
		_ = cmd.Process.Release()
		return 0
	}
	err = cmd.Wait()
	_ = os.Remove(dir) // if it is empty: nothing of ours is left there
	if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return a.fail(fmt.Errorf("nsrun up's holder: %v", err))
}

// downRootless is nsrun down without root: each name is a topology that a
// rootless up holds; its holder removes it and ends, which we wait for, so
// that nothing of the run is left when we return.
func (a *app) downRootless(names []string) int {
	code := 0
	for _, name := range names {
		dir, r, err := findHeld(name, true)
		if err != nil {
			code = a.fail(err)
			continue
		}
		if c := a.downHeld(dir, r); c != 0 {
			code = c
		}
	}
	return code
}

// downHeld asks the holder of r (in dir) to remove its topology, and waits
// for the holder to end; it returns the exit code.
func (a *app) downHeld(dir string, r heldRun) int {
	args := []string{"down", r.Name}
	if a.verbose {
		args = []string{"down", "-v", r.Name}
	}
	c, err := a.callHeld(dir, r, args, nil, a.stdout, a.stderr)
	switch {
	case err != nil:
		return a.fail(err)
	case c != 0:
		return c
	case !waitGone(r, 10*time.Second):
		return a.fail(fmt.Errorf("remove %s: its holder (pid %d) did not end", r.Name, r.PID))
	}
	_ = os.Remove(dir) // if it is empty: the user has no other run
	return 0
}

// waitGone waits up to d for r's holder to end.
func waitGone(r heldRun, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for r.alive() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// execRootless is nsrun exec without root: the run that holds the
// namespace runs nsrun exec with our arguments.
func (a *app) execRootless(name string, args []string) int {
	dir, r, err := findHeld(name, false)
	if err != nil {
		return a.fail(err)
	}
	code, err := a.callHeld(dir, r, append([]string{"exec"}, args...), a.stdin, a.stdout, a.stderr)
	if err != nil {
		return a.fail(err)
	}
	return code
}

// lsRootless lists the namespaces of the user's rootless runs, asking each
// holder; a run whose holder is gone gets a line on stderr.
func (a *app) lsRootless() ([]lsEntry, error) {
	dir, runs, err := heldRuns()
	if err != nil {
		return nil, err
	}
	var all []lsEntry
	for _, r := range runs {
		if !r.alive() {
			a.mu.Lock()
			fmt.Fprintf(a.stderr, "nsrun: rootless topology %s is gone (holder pid %d ended): nsrun gc removes its record\n", r.Name, r.PID)
			a.mu.Unlock()
			continue
		}
		var out bytes.Buffer
		code, err := a.callHeld(dir, r, []string{"ls", "--json"}, nil, &out, a.stderr)
		if err == nil && code != 0 {
			err = fmt.Errorf("nsrun ls in it exited with %d", code)
		}
		var entries []lsEntry
		if err == nil {
			err = json.Unmarshal(out.Bytes(), &entries)
		}
		if err != nil {
			return nil, fmt.Errorf("list rootless topology %s: %w", r.Name, err)
		}
		for i := range entries {
			entries[i].Rootless = r.Name
		}
		all = append(all, entries...)
	}
	return all, nil
}

// gcRootless is nsrun gc without root: it removes the records of the
// user's rootless runs whose holder is gone (their namespaces went with
// it). Live runs are left alone: nsrun down ends them.
func (a *app) gcRootless(dry bool) int {
	dir, runs, err := heldRuns()
	if err != nil {
		return a.fail(err)
	}
	verb := "removed"
	if dry {
		verb = "would remove"
	}
	code := 0
	for _, r := range runs {
		if r.alive() {
			continue
		}
		if !dry {
			if err := r.remove(dir); err != nil {
				code = a.fail(fmt.Errorf("remove rootless topology %s: %w", r.Name, err))
				continue
			}
			_ = os.Remove(dir) // if it is empty
		}
		fmt.Fprintf(a.stdout, "%s rootless topology %s (holder pid %d is gone)\n", verb, r.Name, r.PID)
	}
	return code
}
