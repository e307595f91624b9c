package runner_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/leakcheck"
	"github.com/nsrun/nsrun/internal/reexec"
	"github.com/nsrun/nsrun/internal/runnerhook"
	"github.com/nsrun/nsrun/internal/syncbuf"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/nsrun/nsrun/runner"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	os.Exit(leakcheck.Run(m))
}

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

// sh returns a Cmd running script with sh -c in ns, output captured.
func sh(ns *nsrun.Namespace, script string) (*runner.Cmd, *buffer) {
	out := &buffer{}
	c := runner.Command(ns, "sh", "-c", script)
	c.Stdout, c.Stderr = out, out
	return c, out
}

// buffer is safe for one writer and concurrent readers.
type buffer = syncbuf.Buffer

// codeOf returns the Code of err, which must be a *runner.Error.
func codeOf(t *testing.T, err error) int {
	t.Helper()
	var e *runner.Error
	require.True(t, errors.As(err, &e), "not a *runner.Error: %v", err)
	return e.Code
}

// early returns a Cmd whose reaper starts before the namespace called
// netns exists, and the function that hands the namespace over.
func early(netns string, args ...string) (*runner.Cmd, func(*nsrun.Namespace) error) {
	c, enter := runnerhook.CommandNamed(netns, args)
	return c.(*runner.Cmd), enter
}

// result is how a Cmd's Run ended.
type result struct {
	st  runner.Status
	err error
}

// runBackground runs c with sigs on another goroutine; the test's cleanup
// kills it if it is still running.
func runBackground(t *testing.T, c *runner.Cmd, sigs <-chan os.Signal) <-chan result {
	t.Helper()
	require.NoError(t, c.Start())
	done, finished := make(chan result, 1), make(chan struct{})
	go func() {
		defer close(finished)
		st, err := c.Run(context.Background(), sigs)
		done <- result{st, err}
	}()
	t.Cleanup(func() {
		select {
		case <-finished:
		default:
			_ = c.Kill()
			<-finished
		}
	})
	return done
}

// waitFor polls buf until it contains s, and fails the test if it does not
// within 10 s. Call it on the test's goroutine.
func waitFor(t *testing.T, buf *buffer, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(buf.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10s for %q in the output, got %q", s, buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestIntegrationExitCodes(t *testing.T) {
	ns := newNS(t)
	for _, tc := range []struct {
		script string
		want   int
	}{{"exit 0", 0}, {"exit 1", 1}, {"exit 3", 3}, {"kill -TERM $$", 143}, {"kill -KILL $$", 137}} {
		c, out := sh(ns, tc.script)
		st, err := c.Run(context.Background(), nil)
		require.NoError(t, err, out.String())
		assert.Equal(t, tc.want, st.ExitCode(), "%s: %s", tc.script, out)
	}
}

func TestIntegrationInside(t *testing.T) {
	ns := newNS(t)
	c, out := sh(ns, `echo ppid=$PPID; ls /sys/class/net; hostname; echo ns=$NSRUN_TEST`)
	c.Hostname = "inside-host"
	c.Env = append(os.Environ(), "NSRUN_TEST=yes")
	st, err := c.Run(context.Background(), nil)
	require.NoError(t, err)
	require.Equal(t, 0, st.ExitCode(), out.String())
	got := strings.Fields(out.String())
	assert.Equal(t, []string{"ppid=1", "lo", "inside-host", "ns=yes"}, got)
}

func TestIntegrationNoPIDNamespace(t *testing.T) {
	ns := newNS(t)
	c, out := sh(ns, `echo ppid=$PPID; ls /sys/class/net; hostname; readlink /proc/self/ns/net`)
	c.NoPIDNamespace = true
	c.Hostname = "exec-host"
	st, err := c.Run(context.Background(), nil)
	require.NoError(t, err)
	require.Equal(t, 0, st.ExitCode(), out.String())
	var want unix.Stat_t
	require.NoError(t, unix.Stat(ns.Path(), &want))
	assert.Equal(t, []string{fmt.Sprintf("ppid=%d", os.Getpid()), "lo", "exec-host", fmt.Sprintf("net:[%d]", want.Ino)},
		strings.Fields(out.String()), "the payload is the re-executed process itself")

	c = runner.Command(ns, "no-such-command-nsrun")
	c.NoPIDNamespace = true
	_, err = c.Run(context.Background(), nil)
	assert.Equal(t, reexec.CodeNotFound, codeOf(t, err))
}

func TestIntegrationNotFound(t *testing.T) {
	ns := newNS(t)
	c := runner.Command(ns, "no-such-command-nsrun")
	_, err := c.Run(context.Background(), nil)
	require.Error(t, err)
	assert.Equal(t, reexec.CodeNotFound, codeOf(t, err))
	assert.Contains(t, err.Error(), "no-such-command-nsrun")

	c = runner.Command(ns, "/etc/hostname")
	_, err = c.Run(context.Background(), nil)
	assert.Equal(t, reexec.CodeNotExecutable, codeOf(t, err), "%v", err)
}

func TestIntegrationForwardAndEscalate(t *testing.T) {
	ns := newNS(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT} {
		c, out := sh(ns, `trap 'echo got-`+sig.String()+`; exit 7' `+unixName(sig)+`; echo ready; while :; do sleep 0.01; done`)
		sigs := make(chan os.Signal, 1)
		done := runBackground(t, c, sigs)
		waitFor(t, out, "ready")
		sigs <- sig
		r := <-done
		require.NoError(t, r.err)
		assert.Equal(t, 7, r.st.ExitCode(), "%v: %s", sig, out)
	}
	c, out := sh(ns, `trap '' INT TERM; echo ready; while :; do sleep 0.01; done`)
	c.Grace = 100 * time.Millisecond
	sigs := make(chan os.Signal, 2)
	done := runBackground(t, c, sigs)
	waitFor(t, out, "ready")
	sigs <- syscall.SIGTERM
	r := <-done
	require.NoError(t, r.err)
	assert.True(t, r.st.Killed)
	assert.Equal(t, 137, r.st.ExitCode())
}

func TestIntegrationTimeoutKillsDaemons(t *testing.T) {
	ns := newNS(t)
	c, out := sh(ns, `sleep 1000 & echo $!; setsid sleep 1001 & sleep 1000`)
	c.Timeout = 200 * time.Millisecond
	st, err := c.Run(context.Background(), nil)
	require.NoError(t, err)
	assert.True(t, st.TimedOut)
	assert.Equal(t, 124, st.ExitCode(), out.String())
	pids, err := ns.Pids()
	require.NoError(t, err)
	assert.Empty(t, pids)
}

func TestIntegrationCredential(t *testing.T) {
	ns := newNS(t)
	c, out := sh(ns, `id -u; id -g; id -G; echo $HOME`)
	c.Credential = &syscall.Credential{Uid: 65534, Gid: 65534}
	c.Env = []string{"HOME=/nonexistent", "PATH=" + os.Getenv("PATH")}
	st, err := c.Run(context.Background(), nil)
	require.NoError(t, err)
	require.Equal(t, 0, st.ExitCode(), out.String())
	assert.Equal(t, []string{"65534", "65534", "65534", "/nonexistent"}, strings.Fields(out.String()),
		"ids set, supplementary groups dropped, Env passed as it is")
}

func unixName(sig syscall.Signal) string {
	return map[syscall.Signal]string{syscall.SIGINT: "INT", syscall.SIGTERM: "TERM", syscall.SIGHUP: "HUP", syscall.SIGQUIT: "QUIT"}[sig]
}

func TestIntegrationEarlySignalReachesPayload(t *testing.T) {
	ns := newNS(t)
	c, out := sh(ns, `sleep 5`)
	sigs := make(chan os.Signal, 1)
	sigs <- syscall.SIGHUP // before the reaper listens: held, then forwarded
	st, err := c.Run(context.Background(), sigs)
	require.NoError(t, err)
	assert.Equal(t, 128+int(syscall.SIGHUP), st.ExitCode(), out.String())
	assert.False(t, st.Killed)
}

func TestIntegrationEarlyStartsBeforeTheNamespace(t *testing.T) {
	testenv.RequirePrivilege(t)
	name := fmt.Sprintf("runner-early-%d", os.Getpid())
	out := &buffer{}
	c, enter := early(name, "sh", "-c", `ls /sys/class/net; readlink /proc/self/ns/net; ls "$D"`)
	c.Env = append(os.Environ(), "D="+nsrun.Dir())
	c.Stdout, c.Stderr = out, out
	require.NoError(t, c.Start()) // the reaper waits for the namespace
	ns, err := nsrun.New(nsrun.WithName(name))
	if err != nil {
		_ = c.Kill()
		_, _ = c.Wait()
		require.NoError(t, err)
	}
	t.Cleanup(func() { assert.NoError(t, ns.Delete()) })
	require.NoError(t, enter(ns))
	st, err := c.Run(context.Background(), nil)
	require.NoError(t, err)
	require.Equal(t, 0, st.ExitCode(), out.String())
	var want unix.Stat_t
	require.NoError(t, unix.Stat(ns.Path(), &want))
	assert.Equal(t, []string{"lo", fmt.Sprintf("net:[%d]", want.Ino), name}, strings.Fields(out.String()))
}

func TestIntegrationEarlyNeverEntered(t *testing.T) {
	testenv.RequirePrivilege(t)
	c, _ := early("runner-never-made", "sleep", "4343.4345")
	require.NoError(t, c.Start())
	pid := c.Pid()
	require.NoError(t, c.Kill())
	_, _ = c.Wait()
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "the waiting reaper survived")
}

func TestIntegrationEarlyAbandoned(t *testing.T) {
	testenv.RequirePrivilege(t)
	c, _ := early("runner-never-made", "sleep", "4343.4348")
	require.NoError(t, c.Start())
	pid := c.Pid()
	st, err := c.Wait() // without the namespace, the reaper gives up
	require.NoError(t, err)
	assert.Equal(t, reexec.CodeFailed, st.ExitCode())
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "the waiting reaper survived")
}

func TestIntegrationEnterWrongNamespace(t *testing.T) {
	ns := newNS(t)
	c, enter := early("runner-other-name", "true")
	require.NoError(t, c.Start())
	pid := c.Pid()
	err := enter(ns)
	require.ErrorContains(t, err, "started for runner-other-name")
	assert.Equal(t, reexec.CodeFailed, codeOf(t, err))
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "the reaper survived a failed enter")
}

func TestIntegrationStartClosedNamespace(t *testing.T) {
	testenv.RequirePrivilege(t)
	ns, err := nsrun.New()
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, ns.Delete()) })
	c := runner.Command(ns, "sleep", "4343.4347")
	require.NoError(t, ns.Close())
	err = c.Start()
	require.Error(t, err)
	assert.Equal(t, reexec.CodeFailed, codeOf(t, err))
	assert.Contains(t, err.Error(), "enter "+ns.Name())
	assert.NotZero(t, c.Pid())
	assert.ErrorIs(t, syscall.Kill(c.Pid(), 0), syscall.ESRCH, "the reaper survived a failed Start")
}

func TestStartWithoutCommand(t *testing.T) {
	c := &runner.Cmd{}
	err := c.Start()
	assert.Equal(t, reexec.CodeNotFound, codeOf(t, err))
	assert.Zero(t, c.Pid())
	_, err = c.Wait()
	assert.ErrorContains(t, err, "not started")
}
