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
//
// A new mode (rootless: a process cloned into a new user and mount
// namespace that then acts as root there) adds a Mode value, its clone
// flags in Spec.Cloneflags and its case in the child's dispatch.
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
// Nothing of the importing program runs in a re-executed process: init
// exits it. Go initialises a package's dependencies before the package,
// and packages that do not depend on each other in import-path order, so
// this package keeps its dependencies few and light (the standard
// library's lighter parts, golang.org/x/sys, internal/nsthread and
// internal/paths; TestDependenciesAreLight enforces it), and its init runs,
// and a re-executed process exits, before the program's heavy packages
// (netlink, YAML, the core, fixtures) are initialised.
package reexec

import (
	"fmt"
	"os"
	"syscall"
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
)

var modeNames = map[Mode]string{ModeExec: "exec", ModeSupervise: "supervise"}

// String returns the mode's word in argv: "exec" or "supervise".
func (m Mode) String() string {
	if s, ok := modeNames[m]; ok {
		return s
	}
	return fmt.Sprintf("mode(%d)", uint8(m))
}

// Forwarded returns the signals a supervising process passes on to the
// program's process group: SIGINT, SIGTERM, SIGHUP and SIGQUIT. A caller
// that supervises the supervisor (nsrun) catches the same ones.
func Forwarded() []os.Signal {
	return []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}
}
