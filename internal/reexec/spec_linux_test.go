package reexec

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSpecRoundTrip(t *testing.T) {
	for _, s := range []Spec{
		{Mode: ModeSupervise, Netns: "a", Args: []string{"true"}, NetnsDir: "/run/netns", RecordDir: "/run/nsrun",
			Expose: []string{"a", "b,c"}},
		{Mode: ModeSupervise, Netns: "b", Hostname: "h", Foreground: true, Args: []string{"sh", "-c", "x y", ""},
			Credential: &syscall.Credential{Uid: 65534, Gid: 65534, Groups: []uint32{65534, 4}}},
		{Mode: ModeExec, Netns: "c", Args: []string{"id"}, Credential: &syscall.Credential{Uid: 1000, Gid: 1000}},
		{Mode: ModeSupervise, Netns: "e", Foreground: true, UserNS: true, Args: []string{"id"},
			Credential: &syscall.Credential{Uid: 1000, Gid: 1001}},
		{Mode: ModeExec, Netns: "d", NetnsPath: "/run/netns/d", Path: "/usr/bin/env", Args: []string{"env", "-i"}},
	} {
		got, err := parseSpec(s.Argv())
		require.NoError(t, err)
		if s.Credential != nil && s.Credential.Groups == nil {
			s.Credential.Groups = []uint32{}
		}
		assert.Equal(t, s, got)
	}
}

func TestSpecArgvEndsWithTheProgramsArguments(t *testing.T) {
	argv := Spec{Mode: ModeExec, Netns: "a", NetnsPath: "/p", Args: []string{"echo", "x"}}.Argv()
	assert.Equal(t, Marker, argv[0])
	assert.Equal(t, []string{"echo", "x"}, argv[len(argv)-2:], "appending to the argv appends to the program's")
	got, err := parseSpec(append(argv, "y"))
	require.NoError(t, err)
	assert.Equal(t, []string{"echo", "x", "y"}, got.Args)
}

func TestParseSpecRejects(t *testing.T) {
	good := Spec{Mode: ModeSupervise, Netns: "a", Args: []string{"true"}}.Argv()
	for name, argv := range map[string][]string{
		"too few":           good[:headWords],
		"no marker":         append([]string{"x"}, good[1:]...),
		"unknown mode":      replace(good, 1, "nonsense"),
		"rootless in argv":  replace(good, 1, "rootless"),
		"user ns in exec":   Spec{Mode: ModeExec, Netns: "a", UserNS: true, Args: []string{"true"}}.Argv(),
		"bad credential":    replace(good, 6, "x:y:"),
		"short credential":  replace(good, 6, "1"),
		"supervise by path": Spec{Mode: ModeSupervise, Netns: "a", NetnsPath: "/p", Args: []string{"true"}}.Argv(),
	} {
		_, err := parseSpec(argv)
		assert.Error(t, err, name)
	}
}

func replace(argv []string, i int, word string) []string {
	out := append([]string(nil), argv...)
	out[i] = word
	return out
}

func TestCloneflags(t *testing.T) {
	assert.Equal(t, uintptr(syscall.CLONE_NEWPID), Spec{Mode: ModeSupervise}.Cloneflags())
	assert.Zero(t, Spec{Mode: ModeExec}.Cloneflags(), "mount and UTS namespaces are the process's own work")
	assert.Equal(t, uintptr(syscall.CLONE_NEWUSER|syscall.CLONE_NEWNS|syscall.CLONE_NEWNET), Spec{Mode: ModeRootless}.Cloneflags(),
		"a user namespace cannot be unshared by a multithreaded process, and the run needs a network namespace it owns to switch back to")
}

func TestReportRoundTrip(t *testing.T) {
	for _, r := range []Report{
		{Done: true, Code: 3},
		{Done: true, Signal: 9},
		{Code: 127, Err: "run x: executable file not found in $PATH"},
	} {
		assert.Equal(t, r, decodeReport(r.encode()))
	}
	assert.Equal(t, Report{Code: 125, Err: "a b"}, decodeReport(Report{Code: 125, Err: "a\nb"}.encode()), "one line")
	for _, bad := range []string{"garbage\n", "", "done x 0\n", "done 1 x\n", readyLine} {
		assert.Equal(t, Report{}, decodeReport(bad), "%q", bad)
	}
}

func TestParseID(t *testing.T) {
	id, err := parseID("4 4026532307")
	require.NoError(t, err)
	assert.Equal(t, uint64(4), id.Dev)
	assert.Equal(t, uint64(4026532307), id.Ino)
	for _, bad := range []string{"", "4", "4 x", "x 4", "4  5"} {
		_, err := parseID(bad)
		assert.Error(t, err, "%q", bad)
	}
}

// TestExitCode pins the one table of exit codes. EPERM counts as "found but
// not executable" (126), like EACCES: both are os.ErrPermission, and execve
// returns EPERM for a program that is there but may not be run (a set-ID
// file on a nosuid mount, under ptrace, or refused by an LSM).
func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, 0},
		{exec.ErrNotFound, CodeNotFound},
		{syscall.ENOENT, CodeNotFound},
		{&os.PathError{Op: "stat", Path: "/x", Err: syscall.ENOENT}, CodeNotFound},
		{fmt.Errorf("run x: %w", exec.ErrNotFound), CodeNotFound},
		{syscall.EACCES, CodeNotExecutable},
		{syscall.EPERM, CodeNotExecutable},
		{os.ErrPermission, CodeNotExecutable},
		{syscall.ENOEXEC, CodeNotExecutable},
		{syscall.EISDIR, CodeNotExecutable},
		{fmt.Errorf("run x: %w", syscall.EPERM), CodeNotExecutable},
		{syscall.E2BIG, CodeFailed},
		{errors.New("set up mounts"), CodeFailed},
	} {
		assert.Equal(t, tc.want, ExitCode(tc.err), "%v", tc.err)
	}
}

func TestModeString(t *testing.T) {
	assert.Equal(t, "exec", ModeExec.String())
	assert.Equal(t, "supervise", ModeSupervise.String())
	assert.Equal(t, "rootless", ModeRootless.String())
	assert.Equal(t, "mode(9)", Mode(9).String())
}

func TestForwardedIsACopy(t *testing.T) {
	f := Forwarded()
	f[0] = syscall.SIGUSR1
	assert.Equal(t, syscall.SIGINT, Forwarded()[0])
}
