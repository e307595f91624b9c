package nsrun_test

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/leakcheck"
	"github.com/nsrun/nsrun/internal/nsthread"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/nsrun/nsrun/nstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// idOf returns the namespace ID behind n.
func idOf(t testing.TB, n *nsrun.Namespace) nsthread.ID {
	t.Helper()
	id, err := nsthread.Stat(n.Path())
	require.NoError(t, err)
	return id
}

func hostID(t testing.TB) nsthread.ID {
	_, id, err := nsthread.Host()
	require.NoError(t, err)
	return id
}

func TestIntegrationDoRunsInsideAndRestores(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	n := newNS(t)
	runtime.LockOSThread() // keep this goroutine on one thread to check it
	defer runtime.UnlockOSThread()
	var inside nsthread.ID
	require.NoError(t, n.Do(func() (err error) { inside, err = current(); return }))
	assert.Equal(t, idOf(t, n), inside)
	now, err := current()
	require.NoError(t, err)
	assert.Equal(t, hostID(t), now, "the caller's thread never moves")

	want := errors.New("boom")
	assert.Equal(t, want, n.Do(func() error { return want }), "fn's error comes back as is")
}

func TestIntegrationDoPanicAndGoexit(t *testing.T) {
	testenv.RequirePrivilege(t)
	// Not parallel: its last check looks at every thread of the process,
	// and a parallel test's Do may have one inside at that very moment.
	n := newNS(t)
	assert.PanicsWithValue(t, "inside", func() { n.Do(func() error { panic("inside") }) })
	// Goexit (t.FailNow) inside Do ends the caller's goroutine, as if fn had
	// run there, once the thread is back; Go reports it instead.
	ended := make(chan bool, 1)
	go func() {
		defer func() { ended <- true }()
		n.Do(func() error { runtime.Goexit(); return nil })
		ended <- false
	}()
	assert.True(t, <-ended, "Goexit inside Do ends the caller's goroutine")
	assert.ErrorIs(t, <-n.Go(func() error { runtime.Goexit(); return nil }), nsthread.ErrGoexit)
	assert.Empty(t, leakcheck.TaintedThreads())
}

func TestIntegrationGoInheritsButDoDoesNotPassOn(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	n := newNS(t)
	var viaGo, spawned nsthread.ID
	require.NoError(t, <-n.Go(func() (err error) { viaGo, err = current(); return }))
	assert.Equal(t, idOf(t, n), viaGo)
	require.NoError(t, n.Do(func() error {
		// A goroutine started inside runs on another (host) thread.
		done := make(chan struct{})
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			spawned, _ = current()
			close(done)
		}()
		<-done
		return nil
	}))
	assert.Equal(t, hostID(t), spawned, "goroutines started in Do do not inherit the namespace (documented)")
}

func TestIntegrationSocketsStayInTheirNamespace(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	a, b := newNS(t), newNS(t)
	ln, err := a.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	c, err := a.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	buf := make([]byte, 2)
	_, err = c.Read(buf)
	require.NoError(t, err)
	assert.Equal(t, "hi", string(buf))
	c.Close()
	_, err = b.Dial("tcp", ln.Addr().String())
	assert.Error(t, err, "another namespace's loopback does not reach the listener")

	pc, err := a.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer pc.Close()
	assert.Contains(t, ip(t, "netns", "exec", a.Name(), "ss", "-Hlun"), pc.LocalAddr().String())
	assert.NotContains(t, ip(t, "netns", "exec", b.Name(), "ss", "-Hlun"), pc.LocalAddr().String())
}

func TestIntegrationNetlinkHandleIsInside(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	n := newNS(t)
	h, err := n.Netlink()
	require.NoError(t, err)
	links, err := h.LinkList()
	require.NoError(t, err)
	require.Len(t, links, 1)
	assert.Equal(t, "lo", links[0].Attrs().Name)
}

func TestIntegrationRunPinsSubtest(t *testing.T) {
	testenv.RequirePrivilege(t)
	n := newNS(t)
	for i := 0; i < 4; i++ {
		nstest.Run(t, n, "inside", func(t *testing.T) {
			t.Parallel()
			cur, err := current()
			require.NoError(t, err)
			assert.Equal(t, idOf(t, n), cur)
			// os/exec children of a pinned goroutine start inside.
			out, err := exec.Command("ip", "-o", "link").Output()
			require.NoError(t, err)
			assert.Equal(t, 1, strings.Count(string(out), "\n"), "only lo: %s", out)
			// A socket opened directly is inside too.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			ln.Close()
		})
	}
	t.Cleanup(func() { assert.Empty(t, leakcheck.TaintedThreads()) })
}

func TestIntegrationCommandRunsLikeIPNetnsExec(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	n := newNS(t, nsrun.WithHostname("nsrun-host"))
	out, err := n.Command("sh", "-c", "ls /sys/class/net; hostname; readlink /proc/self/ns/net").Output()
	require.NoError(t, err)
	lines := strings.Fields(string(out))
	require.Len(t, lines, 3, "%s", out)
	assert.Equal(t, "lo", lines[0], "/sys shows the namespace's links")
	assert.Equal(t, "nsrun-host", lines[1])
	assert.Equal(t, idOf(t, n).String(), lines[2])

	var exit *exec.ExitError
	require.ErrorAs(t, n.Command("sh", "-c", "exit 3").Run(), &exit)
	assert.Equal(t, 3, exit.ExitCode(), "the program's exit code passes through")
	assert.ErrorIs(t, n.Command("no-such-program-nsrun").Start(), exec.ErrNotFound)

	// Env replaced wholesale keeps working: the trampoline lives in Args.
	cmd := n.Command("sh", "-c", "echo $X")
	cmd.Env = []string{"X=kept"}
	out, err = cmd.Output()
	require.NoError(t, err)
	assert.Equal(t, "kept\n", string(out))
}

func TestIntegrationCommandBindsEtcNetnsThroughSymlinks(t *testing.T) {
	testenv.RequireRealRoot(t, "make a symlink in the host's /etc and its target in /run")
	// /etc/X is a symlink into /run (as resolv.conf often is): the bind
	// must land on the real file, inside the command's mount namespace only.
	n := newNS(t)
	link := "/etc/nsrun-test-" + n.Name()
	target := "/run/nsrun-test-target-" + n.Name()
	require.NoError(t, os.WriteFile(target, []byte("host\n"), 0o644))
	t.Cleanup(func() { os.Remove(target) })
	require.NoError(t, os.Symlink(target, link))
	t.Cleanup(func() { os.Remove(link) })
	etc := filepath.Join("/etc/netns", n.Name())
	require.NoError(t, os.MkdirAll(etc, 0o755))
	t.Cleanup(func() { os.RemoveAll(etc) })
	require.NoError(t, os.WriteFile(filepath.Join(etc, filepath.Base(link)), []byte("inside\n"), 0o644))

	out, err := n.Command("cat", link).Output()
	require.NoError(t, err)
	assert.Equal(t, "inside\n", string(out))
	host, err := os.ReadFile(link)
	require.NoError(t, err)
	assert.Equal(t, "host\n", string(host), "the host still sees its own file")
	mi, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	assert.NotContains(t, string(mi), target, "no mount piles up on the host")
}
