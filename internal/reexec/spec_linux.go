package reexec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// Spec is what a re-executed process needs besides its environment and
// working directory, which are the program's, and (without NetnsPath) the
// network namespace, which it receives over its socket. It travels in argv.
type Spec struct {
	Mode Mode
	// Netns is the network namespace's name: /etc/netns/NAME is bound over
	// /etc, and sysfs is mounted under it.
	Netns string
	// NetnsPath, if set, is the file the namespace is bound to: the process
	// joins it by path and reports failures on its stderr. Empty means that
	// it gets the namespace from Proc.Enter and reports on its pipe.
	NetnsPath string
	// Hostname, if set, gives the process a UTS namespace with this name.
	Hostname string
	// Foreground (ModeSupervise) starts the program as the foreground
	// process group of the terminal that is its stdin.
	Foreground bool
	// Credential is who the program runs as; nil keeps the caller's.
	Credential *syscall.Credential
	// UserNS (ModeSupervise, with Credential) runs the program in a new
	// user namespace in which Credential's uid and gid are the caller's
	// own (its supplementary groups are ignored) instead of switching to
	// them: inside a rootless run, whose user namespace maps only root,
	// the program so runs as the user who started the run.
	UserNS bool
	// NetnsDir and RecordDir (ModeSupervise) are replaced by private
	// directories in which only Netns, Expose and the namespaces the
	// program makes are visible by name.
	NetnsDir, RecordDir string
	Expose              []string
	// Path is the program to execute; empty means Args[0], looked up in
	// the PATH of the environment inside the new mount namespace.
	Path string
	Args []string
}

// headWords is the number of argv words before the program's arguments.
const headWords = 11

// Argv encodes s as the command line to re-execute Self with: Marker, the
// mode, flags ("f" foreground, "u" UserNS), network namespace name and
// path, host name, credential ("" or "uid:gid:g1,g2"), namespace
// directory, record directory, exposed names joined by "/" (which no name
// contains), program path, then the program's arguments, so that appending
// to the result appends to those.
func (s Spec) Argv() []string {
	flags := ""
	if s.Foreground {
		flags += "f"
	}
	if s.UserNS {
		flags += "u"
	}
	head := []string{Marker, s.Mode.String(), flags, s.Netns, s.NetnsPath, s.Hostname,
		formatCredential(s.Credential), s.NetnsDir, s.RecordDir, strings.Join(s.Expose, "/"), s.Path}
	return append(head, s.Args...)
}

// Cloneflags returns the namespaces the process must be cloned into, those
// it cannot make for itself: a PID namespace for ModeSupervise, whose PID 1
// it is; for ModeRootless a user namespace (which a multithreaded process
// cannot unshare), with the mount namespace its private state lives in and
// a network namespace that the new user namespace owns, so that the run's
// threads can switch back to it. Its mount and UTS namespaces a process of
// the other modes makes itself, so that a caller that does not control the
// clone (Namespace.Command, whose SysProcAttr its user may replace) gets
// them too.
func (s Spec) Cloneflags() uintptr {
	switch s.Mode {
	case ModeSupervise:
		return syscall.CLONE_NEWPID
	case ModeRootless:
		return syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWNET
	}
	return 0
}

// parseSpec decodes argv as written by Argv.
func parseSpec(argv []string) (Spec, error) {
	if len(argv) <= headWords || argv[0] != Marker {
		return Spec{}, errors.New("parse re-exec arguments: too few")
	}
	s := Spec{
		Netns: argv[3], NetnsPath: argv[4], Hostname: argv[5],
		Foreground: strings.Contains(argv[2], "f"), UserNS: strings.Contains(argv[2], "u"),
		NetnsDir: argv[7], RecordDir: argv[8], Path: argv[10], Args: argv[headWords:],
	}
	for m, name := range modeNames {
		if argv[1] == name {
			s.Mode = m
		}
	}
	switch {
	case s.Mode == 0:
		return Spec{}, fmt.Errorf("parse re-exec arguments: unknown mode %q", argv[1])
	case s.Mode == ModeSupervise && s.NetnsPath != "":
		return Spec{}, errors.New("parse re-exec arguments: a supervisor gets its namespace over its socket")
	case s.Mode == ModeRootless:
		return Spec{}, fmt.Errorf("parse re-exec arguments: the %s mode is marked by %s, not argv", s.Mode, RootlessEnv)
	case s.UserNS && s.Mode != ModeSupervise:
		return Spec{}, errors.New("parse re-exec arguments: only a supervisor starts its program in a user namespace")
	}
	if argv[9] != "" {
		s.Expose = strings.Split(argv[9], "/")
	}
	var err error
	s.Credential, err = parseCredential(argv[6])
	return s, err
}

// formatCredential encodes c as "uid:gid:g1,g2", or "" for nil.
func formatCredential(c *syscall.Credential) string {
	if c == nil {
		return ""
	}
	groups := make([]string, len(c.Groups))
	for i, g := range c.Groups {
		groups[i] = strconv.FormatUint(uint64(g), 10)
	}
	return fmt.Sprintf("%d:%d:%s", c.Uid, c.Gid, strings.Join(groups, ","))
}

// parseCredential decodes what formatCredential wrote.
func parseCredential(word string) (*syscall.Credential, error) {
	if word == "" {
		return nil, nil
	}
	f := strings.Split(word, ":")
	if len(f) != 3 {
		return nil, fmt.Errorf("parse re-exec credential %q", word)
	}
	ids := []uint32{}
	for _, v := range append(f[:2:2], strings.Split(f[2], ",")...) {
		if v == "" {
			continue
		}
		id, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("parse re-exec credential: %w", err)
		}
		ids = append(ids, uint32(id))
	}
	if len(ids) < 2 {
		return nil, fmt.Errorf("parse re-exec credential %q", word)
	}
	return &syscall.Credential{Uid: ids[0], Gid: ids[1], Groups: ids[2:]}, nil
}

// Report is what a process started by Start sends back on its pipe, in one
// line: how the program ended ("done CODE SIGNAL", ModeSupervise), or why
// it could not run ("err CODE MESSAGE", CODE being CodeFailed,
// CodeNotExecutable or CodeNotFound). A process that execs the program
// (ModeExec) or dies sends nothing: its Report is the zero Report.
type Report struct {
	Done   bool   // the program ran and ended with Code or Signal
	Code   int    // its exit code, or (with Err) why it could not run
	Signal int    // non-zero if the program was killed by this signal
	Err    string // why the program could not run
}

// readyLine is a supervisor's first line, once it forwards signals.
const readyLine = "ready\n"

// encode returns the report's line.
func (r Report) encode() string {
	if r.Err != "" {
		return fmt.Sprintf("err %d %s\n", r.Code, strings.ReplaceAll(r.Err, "\n", " "))
	}
	return fmt.Sprintf("done %d %d\n", r.Code, r.Signal)
}

// decodeReport parses a report line; anything else is the zero Report.
func decodeReport(line string) Report {
	f := strings.SplitN(strings.TrimSuffix(line, "\n"), " ", 3)
	if len(f) != 3 {
		return Report{}
	}
	code, err := strconv.Atoi(f[1])
	if err != nil {
		return Report{}
	}
	switch f[0] {
	case "err":
		return Report{Code: code, Err: f[2]}
	case "done":
		sig, err := strconv.Atoi(f[2])
		if err == nil {
			return Report{Done: true, Code: code, Signal: sig}
		}
	}
	return Report{}
}
