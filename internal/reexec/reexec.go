// Package reexec is the one way this module runs a program inside a network
// namespace from a fresh process: it re-executes its own binary
// (/proc/self/exe) with Marker in argv[0] and a Spec encoded in the rest of
// argv, and this package's init turns that process into what the Spec asks
// for, in one of these modes:
//
//   - ModeExec: `ip netns exec` semantics. The process joins the network
//     namespace, gives itself a private mount namespace (a slave of the
//     host's) in which /sys shows the namespace's links and each
//     /etc/netns/NAME/X is bound over /etc/X, sets the host name if asked,
//     and execs the program. Nothing supervises it; what it leaves behind
//     survives it. Namespace.Command and runner's NoPIDNamespace use it.
//   - ModeSupervise: the same mount work, plus a fresh /proc and private
//     namespace and record directories, as PID 1 of a new PID namespace:
//     the process starts the program in its own process group, forwards
//     the signals of Forwarded to it, reaps every process of the PID
//     namespace and reports how the program ended; when it exits, the
//     kernel kills whatever the program left behind. runner uses it.
//   - ModeRootless: the root of a rootless run. An unprivileged program
//     (nsrun, a test binary through nstest.Main) starts itself again with
//     RunRootless: the same argv, environment and stdio, cloned into new
//     user, mount and network namespaces (Spec.Cloneflags) in which the
//     caller's uid and gid are 0, and RootlessEnv set. This package's init
//     then makes the run's state private (a tmpfs of its own where the
//     `ip netns` directory, the owner records and /etc/netns live, and a
//     /sys of its network namespace) and returns: the program goes on,
//     holding every capability in its user namespace, and whatever it
//     names dies with the run. Unlike the other modes, it is marked in the
//     environment, not in argv, which stays the program's own; and it
//     never unshares a user namespace itself, which a multithreaded
//     process cannot (unshare(2)). Detect finds out whether user
//     namespaces work here, and names what blocks them if they do not.
//
// A supervised program can also get a user namespace of its own
// (Spec.UserNS): inside a rootless run only root is mapped, so the program
// runs as the caller's own uid through a nested user namespace that maps
// it to root of the run's.
//
// The process gets its network namespace in one of two ways. With
// Spec.NetnsPath set it opens and joins the namespace bound there, and
// reports a failure on its stderr with an exit code (CodeFailed,
// CodeNotExecutable, CodeNotFound), as `ip netns exec` would: a caller
// that only builds an *exec.Cmd needs nothing else. Without, it is started
// by Start, prepares what does not depend on the namespace, and waits for
// the namespace to arrive as an fd over a socket (Proc.Enter), which it
// checks by device and inode before and after joining it; it reports to
// its parent over a pipe (Report). The parent can so start it while the
// namespace is still being made, which hides most of its start-up.
//
// Nothing of the importing program runs in a re-executed process (exec,
// supervise): init exits it; the root of a rootless run is set up by init
// before the program's heavy packages exist. Go initialises a package's
// dependencies before the package, and packages that do not depend on each
// other in import-path order, so this package keeps its dependencies few
// and light (the standard library's lighter parts, golang.org/x/sys,
// internal/nsthread and internal/paths; TestDependenciesAreLight enforces
// it), and its init runs, and a re-executed process exits (or a rootless
// run is set up), before the program's heavy packages (netlink, YAML, the
// core, fixtures) are initialised.
package reexec

import (
	"fmt"
)

// Marker is argv[0] of a re-executed process; ps shows it as such, followed
// by the mode.
const Marker = "nsrun-reexec"

// Self is the path a process re-executes itself by.
const Self = "/proc/self/exe"

// Mode says what a re-executed process becomes once in the namespace.
type Mode uint8

// The modes; see the package documentation.
const (
	ModeExec      Mode = iota + 1 // become the program, as `ip netns exec`
	ModeSupervise                 // be PID 1 of a new PID namespace and supervise the program
	ModeRootless                  // be the root of a rootless run (marked by RootlessEnv, not argv)
)

var modeNames = map[Mode]string{ModeExec: "exec", ModeSupervise: "supervise", ModeRootless: "rootless"}

// String returns the mode's word: "exec", "supervise" or "rootless".
func (m Mode) String() string {
	if s, ok := modeNames[m]; ok {
		return s
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}
