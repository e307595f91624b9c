package reexec

import (
	"errors"
	"fmt"
	"os/exec"
	"syscall"

	"github.com/nsrun/nsrun/internal/nsthread"
	"golang.org/x/sys/unix"
)

// BlockedError says that unprivileged user namespaces are blocked on this
// machine, why, and what lifts it, in one line.
type BlockedError struct {
	Cause string // what blocks them
	Fix   string // the command that lifts it; empty when there is none to give
	Err   error  // the failure observed
}

func (e *BlockedError) Error() string {
	msg := "user namespaces are blocked: " + e.Cause
	if e.Fix != "" {
		msg += "; lift it with `" + e.Fix + "`"
	}
	return msg + ", or run as root (" + e.Err.Error() + ")"
}

func (e *BlockedError) Unwrap() error { return e.Err }

// The sysctls that can block unprivileged user namespaces.
const (
	sysctlAppArmor  = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns"
	sysctlMaxUserNS = "/proc/sys/user/max_user_namespaces"
	sysctlDebian    = "/proc/sys/kernel/unprivileged_userns_clone"
)

// observations are what Detect finds out; classify judges them.
type observations struct {
	start          error  // making the user, mount and network namespaces for a child
	inside         error  // the child's first privileged act inside (a new network namespace)
	userOnly       error  // making a user namespace alone (probed after start failed for permission)
	userOnlyInside error  // the same child's privileged act
	appArmor       string // the sysctls' values, "" where the kernel lacks one
	maxUserNS      string
	debian         string
	unmapped       bool // this process's uid has no mapping in its own user namespace
}

// observe reads the sysctls.
func observe() observations {
	return observations{
		appArmor:  readFirstLine(sysctlAppArmor),
		maxUserNS: readFirstLine(sysctlMaxUserNS),
		debian:    readFirstLine(sysctlDebian),
		unmapped:  readFirstLine("/proc/self/uid_map") == "",
	}
}

// Detect reports whether this process can run rootless: it starts a child
// of itself in new user, mount and network namespaces (as RunRootless
// does), which tries to make a network namespace there, and judges what
// happened by behaviour, with the sysctls as evidence. nil means that it
// works; else the error is a *BlockedError. It costs a process start.
func Detect() error {
	o := observe()
	o.start, o.inside = probe(Spec{Mode: ModeRootless}.Cloneflags())
	if isPermission(o.start) {
		o.userOnly, o.userOnlyInside = probe(syscall.CLONE_NEWUSER)
	}
	return classify(o)
}

// probeWord is argv[1] of a probe child (see probeChild).
const probeWord = "probe"

// probeExit offsets the errno a probe child exits with.
const probeExit = 110

// probe starts a child in new namespaces of flags (a user namespace
// among them) that tries to make a network namespace, and returns why the
// child could not start, and why its attempt failed.
func probe(flags uintptr) (start, inside error) {
	cmd := &exec.Cmd{Path: Self, Args: []string{Marker, probeWord}}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  flags,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: syscall.Geteuid(), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: syscall.Getegid(), Size: 1}},
		Pdeathsig:   syscall.SIGKILL,
	}
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil, nil
	case !errors.As(err, &ee):
		return err, nil
	}
	code := ee.ExitCode()
	if code > probeExit {
		return nil, syscall.Errno(code - probeExit)
	}
	return nil, fmt.Errorf("probe child exited with %d", code)
}

// probeChild is the child's side of probe: it tries to make a network
// namespace, which needs CAP_SYS_ADMIN in the user namespace it was made
// in, and exits with 0 or probeExit+errno.
func probeChild() int {
	if err := nsthread.Isolate(unix.CLONE_NEWNET); err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) && int(errno) < 256-probeExit {
			return probeExit + int(errno)
		}
		return 1
	}
	return 0
}

// isPermission reports whether err is EPERM or EACCES.
func isPermission(err error) bool {
	return errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES)
}

// classify names the cause of what o observed, and its fix; nil when user
// namespaces work.
func classify(o observations) error {
	failed := o.start
	if failed == nil {
		failed = o.inside
	}
	switch {
	case failed == nil:
		return nil
	case errors.Is(o.start, syscall.ENOSPC) || errors.Is(o.userOnly, syscall.ENOSPC):
		cause := "user.max_user_namespaces=" + o.maxUserNS + " allows none"
		if o.maxUserNS != "0" {
			cause = "the limit user.max_user_namespaces=" + o.maxUserNS + " is reached"
		}
		return &BlockedError{Cause: cause, Fix: "sudo sysctl -w user.max_user_namespaces=15000", Err: failed}
	case isPermission(o.start) && o.debian == "0":
		return &BlockedError{Cause: "kernel.unprivileged_userns_clone=0 (Debian) allows them to root only",
			Fix: "sudo sysctl -w kernel.unprivileged_userns_clone=1", Err: failed}
	case o.start == nil && isPermission(o.inside),
		isPermission(o.start) && o.userOnly == nil && isPermission(o.userOnlyInside):
		// A user namespace is made, but its root holds no capabilities in it.
		if o.appArmor == "0" {
			return &BlockedError{Cause: "a user namespace is made but gets no capabilities (a security module's policy, AppArmor or SELinux, denies them)", Err: failed}
		}
		return &BlockedError{Cause: "a user namespace is made but gets no capabilities: AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns=1, Ubuntu 23.10 and later)",
			Fix: "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0", Err: failed}
	case isPermission(o.start) && o.unmapped:
		return &BlockedError{Cause: "this process's user id has no mapping in its own user namespace (as under unshare -U), so it cannot map itself into a new one: run from a namespace that maps it (unshare -r) or from the host", Err: failed}
	case isPermission(o.start):
		return &BlockedError{Cause: "making one fails for permission although no sysctl forbids it: a seccomp filter or the container runtime refuses it (Docker's default profile does: run the container with --security-opt seccomp=unconfined)", Err: failed}
	case errors.Is(o.start, syscall.EINVAL):
		return &BlockedError{Cause: "the kernel does not support them (CONFIG_USER_NS)", Err: failed}
	case errors.Is(o.start, syscall.EUSERS):
		return &BlockedError{Cause: "they are nested 32 deep already", Err: failed}
	}
	return &BlockedError{Cause: "making one fails", Err: failed}
}
