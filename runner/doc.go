// Package runner starts and supervises a command inside a network namespace,
// the way nsrun runs its payload.
//
// A Cmd runs in its own PID namespace and mount namespace. Its first process
// is a reaper: this very binary, re-executed with a marker in argv[0] that
// the init function of the module's internal reexec package recognises
// early in package initialisation, so nothing of the importing program runs
// in it. The reaper is PID 1 of the new PID namespace. It makes every mount
// a slave, mounts a sysfs showing the namespace's links and a fresh /proc,
// binds /etc/netns/NAME/* over /etc as `ip netns exec` does, gives the run
// a private namespace directory holding only its own namespaces
// (Cmd.Expose), so that those the payload makes die with it and are never
// swept from the host, sets the hostname (optional), and starts the payload
// with the requested credentials in its own process group, as the
// terminal's foreground group when the caller owns the terminal. It
// forwards SIGINT, SIGTERM, SIGHUP and SIGQUIT to that group, reaps every
// process that ends up in the namespace, and exits when the payload does,
// which makes the kernel kill whatever the payload left behind: no daemon
// outlives the run, no zombie piles up.
//
// The reaper is started with PR_SET_PDEATHSIG=SIGKILL, so if the
// supervising program is killed with SIGKILL, the whole tree dies too; the
// namespace itself is then left for the next sweep. It starts in the
// caller's network namespace and receives the command's own as an fd,
// which it joins on its main thread, verified by inode, before it mounts
// sysfs or starts the payload.
//
// Exit status follows env(1) and timeout(1): Status.ExitCode gives the
// payload's own code, 128+N if it died from signal N, 124 if it was stopped
// by Cmd.Timeout. Failures before the payload runs are an *Error whose Code
// is 125 (the runner failed), 126 (not executable) or 127 (not found).
//
// Cmd.NoPIDNamespace gives `ip netns exec` semantics instead: the
// re-executed process prepares the mount namespace and becomes the payload,
// and what the payload leaves behind survives it.
//
// Start needs root (CAP_SYS_ADMIN); importing the package needs nothing.
// The package builds on every OS; off Linux, Start fails with an *Error
// matching nsrun.ErrNotSupported.
package runner
