package runner_test

import (
	"context"
	"fmt"
	"github.com/nsrun/nsrun/internal/syncbuf"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/leakcheck"
	"github.com/nsrun/nsrun/runner"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	os.Exit(leakcheck.Run(m))
}

// newNS makes a namespace deleted when the test ends.
func newNS(t *testing.T) *nsrun.Namespace {
	t.Helper()
	ns, err := nsrun.New(nsrun.WithCreator("runner-test"))
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

func TestExitCodes(t *testing.T) {
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

func TestInside(t *testing.T) {
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

func TestNotFound(t *testing.T) {
	ns := newNS(t)
	c := runner.Command(ns, "no-such-command-nsrun")
	_, err := c.Run(context.Background(), nil)
	require.Error(t, err)
	assert.Equal(t, runner.CodeNotFound, runner.ErrorCode(err))
	assert.Contains(t, err.Error(), "no-such-command-nsrun")

	c = runner.Command(ns, "/etc/hostname")
	_, err = c.Run(context.Background(), nil)
	assert.Equal(t, runner.CodeNotExecutable, runner.ErrorCode(err), "%v", err)
}

func TestForwardAndEscalate(t *testing.T) {
	ns := newNS(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT} {
		c, out := sh(ns, `trap 'echo got-`+sig.String()+`; exit 7' `+strings.TrimPrefix(unixName(sig), "SIG")+`; echo ready; while :; do sleep 0.01; done`)
		sigs := make(chan os.Signal, 1)
		go func() {
			waitFor(t, out, "ready")
			sigs <- sig
		}()
		st, err := c.Run(context.Background(), sigs)
		require.NoError(t, err)
		assert.Equal(t, 7, st.ExitCode(), "%v: %s", sig, out)
	}
	c, out := sh(ns, `trap '' INT TERM; echo ready; while :; do sleep 0.01; done`)
	c.Grace = 100 * time.Millisecond
	sigs := make(chan os.Signal, 2)
	go func() {
		waitFor(t, out, "ready")
		sigs <- syscall.SIGTERM
	}()
	st, err := c.Run(context.Background(), sigs)
	require.NoError(t, err)
	assert.True(t, st.Killed)
	assert.Equal(t, 137, st.ExitCode())
}

func TestTimeoutKillsDaemons(t *testing.T) {
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

func TestUser(t *testing.T) {
	ns := newNS(t)
	u, err := runner.LookupUser("65534")
	require.NoError(t, err)
	c, out := sh(ns, `id -u; id -g; echo $HOME`)
	c.User = u
	st, err := c.Run(context.Background(), nil)
	require.NoError(t, err)
	require.Equal(t, 0, st.ExitCode(), out.String())
	assert.Equal(t, []string{"65534", "65534", u.Home}, strings.Fields(out.String()))
}

func unixName(sig syscall.Signal) string {
	return map[syscall.Signal]string{syscall.SIGINT: "INT", syscall.SIGTERM: "TERM", syscall.SIGHUP: "HUP", syscall.SIGQUIT: "QUIT"}[sig]
}

// waitFor polls buf until it contains s.
func waitFor(t *testing.T, buf *buffer, s string) {
	for i := 0; i < 500 && !strings.Contains(buf.String(), s); i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEarlySignalReachesPayload(t *testing.T) {
	ns := newNS(t)
	c, out := sh(ns, `sleep 5`)
	sigs := make(chan os.Signal, 1)
	sigs <- syscall.SIGHUP // before the reaper listens: held, then forwarded
	st, err := c.Run(context.Background(), sigs)
	require.NoError(t, err)
	assert.Equal(t, 128+int(syscall.SIGHUP), st.ExitCode(), out.String())
	assert.False(t, st.Killed)
}

func TestCommandNamedStartsBeforeTheNamespace(t *testing.T) {
	name := fmt.Sprintf("runner-early-%d", os.Getpid())
	out := &buffer{}
	c := runner.CommandNamed(name, "sh", "-c", `ls /sys/class/net; readlink /proc/self/ns/net; ls "$D"`)
	c.Env = append(os.Environ(), "D="+nsrun.Dir())
	c.Stdout, c.Stderr = out, out
	require.NoError(t, c.Start()) // the reaper waits for the namespace
	ns, err := nsrun.New(nsrun.WithName(name), nsrun.WithCreator("runner-test"))
	if err != nil {
		_ = c.Kill()
		_, _ = c.Wait()
		require.NoError(t, err)
	}
	t.Cleanup(func() { assert.NoError(t, ns.Delete()) })
	require.NoError(t, c.Enter(ns))
	st, err := c.Run(context.Background(), nil)
	require.NoError(t, err)
	require.Equal(t, 0, st.ExitCode(), out.String())
	var want unix.Stat_t
	require.NoError(t, unix.Stat(ns.Path(), &want))
	assert.Equal(t, []string{"lo", fmt.Sprintf("net:[%d]", want.Ino), name}, strings.Fields(out.String()))
}

func TestCommandNamedNeverEntered(t *testing.T) {
	c := runner.CommandNamed("runner-never-made", "sleep", "4343.4345")
	require.NoError(t, c.Start())
	pid := c.Pid()
	require.NoError(t, c.Kill())
	_, _ = c.Wait()
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "the waiting reaper survived")
}

func TestEnterWrongNamespace(t *testing.T) {
	ns := newNS(t)
	c := runner.CommandNamed("runner-other-name", "true")
	require.NoError(t, c.Start())
	pid := c.Pid()
	err := c.Enter(ns)
	require.ErrorContains(t, err, "started for runner-other-name")
	assert.Equal(t, runner.CodeFailed, runner.ErrorCode(err))
	assert.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "the reaper survived a failed Enter")
}

func TestStartClosedNamespace(t *testing.T) {
	ns, err := nsrun.New(nsrun.WithCreator("runner-test"))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, ns.Delete()) })
	c := runner.Command(ns, "sleep", "4343.4347")
	require.NoError(t, ns.Close())
	err = c.Start()
	require.Error(t, err)
	assert.Equal(t, runner.CodeFailed, runner.ErrorCode(err))
	assert.Contains(t, err.Error(), "enter "+ns.Name())
	assert.NotZero(t, c.Pid())
	assert.ErrorIs(t, syscall.Kill(c.Pid(), 0), syscall.ESRCH, "the reaper survived a failed Start")
}
