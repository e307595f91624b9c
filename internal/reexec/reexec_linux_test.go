package reexec_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/reexec"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// newNS makes a namespace deleted when the test ends, or skips the test
// without the privilege to.
func newNS(t *testing.T) *nsrun.Namespace {
	t.Helper()
	testenv.RequirePrivilege(t)
	ns, err := nsrun.New()
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, ns.Delete()) })
	return ns
}

// inode returns the namespace's inode as /proc/PID/ns/net shows it.
func inode(t *testing.T, ns *nsrun.Namespace) string {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Stat(ns.Path(), &st))
	return fmt.Sprintf("net:[%d]", st.Ino)
}

// byPath runs s, joined by path, to the end: stdout, stderr, exit code.
func byPath(t *testing.T, s reexec.Spec) (stdout, stderr string, code int) {
	t.Helper()
	cmd := &exec.Cmd{Path: reexec.Self, Args: s.Argv()}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		require.NoError(t, err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

func TestIntegrationExecByPath(t *testing.T) {
	ns := newNS(t)
	sh, err := exec.LookPath("sh")
	require.NoError(t, err)
	out, stderr, code := byPath(t, reexec.Spec{Mode: reexec.ModeExec, Netns: ns.Name(), NetnsPath: ns.Path(),
		Hostname: "by-path", Path: sh, Args: []string{"sh", "-c", "ls /sys/class/net; hostname; readlink /proc/self/ns/net; exit 3"}})
	assert.Equal(t, 3, code, stderr)
	assert.Equal(t, []string{"lo", "by-path", inode(t, ns)}, strings.Fields(out))
}

func TestIntegrationExecFailures(t *testing.T) {
	ns := newNS(t)
	notExec := filepath.Join(t.TempDir(), "not-executable")
	require.NoError(t, os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644))
	spec := func(netnsPath, path string) reexec.Spec {
		return reexec.Spec{Mode: reexec.ModeExec, Netns: ns.Name(), NetnsPath: netnsPath, Path: path, Args: []string{"prog"}}
	}
	for _, tc := range []struct {
		name   string
		s      reexec.Spec
		code   int
		stderr string
	}{
		{"not found", spec(ns.Path(), "/no/such/program"), reexec.CodeNotFound, "no such file or directory"},
		{"not executable", spec(ns.Path(), notExec), reexec.CodeNotExecutable, "permission denied"},
		{"no namespace", spec("/no/such/netns", "/bin/true"), reexec.CodeFailed, "open network namespace"},
	} {
		_, stderr, code := byPath(t, tc.s)
		assert.Equal(t, tc.code, code, "%s: %s", tc.name, stderr)
		assert.True(t, strings.HasPrefix(stderr, "nsrun: run prog in network namespace "+ns.Name()+": "), "%s: %q", tc.name, stderr)
		assert.Contains(t, stderr, tc.stderr, tc.name)
		assert.Equal(t, 1, strings.Count(stderr, "\n"), "%s: one line: %q", tc.name, stderr)
	}
}

// startProc starts s with its namespace to come over the socket.
func startProc(t *testing.T, s reexec.Spec, stdout *bytes.Buffer) *reexec.Proc {
	t.Helper()
	cmd := &exec.Cmd{Path: reexec.Self, Args: s.Argv(), Stdout: stdout, Stderr: stdout}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: s.Cloneflags(), Pdeathsig: syscall.SIGKILL}
	p, err := reexec.Start(cmd)
	require.NoError(t, err)
	return p
}

func TestIntegrationSuperviseOverSocket(t *testing.T) {
	ns := newNS(t)
	var out bytes.Buffer
	p := startProc(t, reexec.Spec{Mode: reexec.ModeSupervise, Netns: ns.Name(),
		Args: []string{"sh", "-c", "echo $PPID; readlink /proc/self/ns/net; exit 3"}}, &out)
	require.NoError(t, p.Enter(ns.Fd()))
	<-p.Ready()
	rep, err := p.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, out.String())
	assert.Equal(t, 3, ee.ExitCode(), "the supervisor exits with the program's code")
	assert.Equal(t, reexec.Report{Done: true, Code: 3}, rep, out.String())
	assert.Equal(t, []string{"1", inode(t, ns)}, strings.Fields(out.String()), "the supervisor is PID 1")
	assert.Error(t, p.Enter(ns.Fd()), "a second hand-over")
}

func TestIntegrationSuperviseReportsExecFailure(t *testing.T) {
	ns := newNS(t)
	var out bytes.Buffer
	p := startProc(t, reexec.Spec{Mode: reexec.ModeSupervise, Netns: ns.Name(), Args: []string{"no-such-program-nsrun"}}, &out)
	require.NoError(t, p.Enter(ns.Fd()))
	rep, err := p.Wait()
	require.Error(t, err, "the supervisor exits with the code")
	assert.Equal(t, reexec.Report{Code: reexec.CodeNotFound, Err: "run no-such-program-nsrun: executable file not found in $PATH"}, rep)
}

func TestIntegrationWaitWithoutNamespace(t *testing.T) {
	testenv.RequirePrivilege(t)
	var out bytes.Buffer
	p := startProc(t, reexec.Spec{Mode: reexec.ModeSupervise, Netns: "never-made", Args: []string{"true"}}, &out)
	rep, err := p.Wait()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, reexec.CodeFailed, ee.ExitCode(), out.String())
	assert.Equal(t, reexec.Report{}, rep, "a process that gives up has nothing to report")
	assert.Empty(t, out.String())
}
