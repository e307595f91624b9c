package nstest_test

import (
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/fixture"
	"github.com/nsrun/nsrun/internal/syncbuf"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/nsrun/nsrun/nstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIntegrationFailureDump runs a test that fails on purpose with a
// listening server, a connection and a rate limit that drops a burst: its
// log has the state of both nodes (addresses, routes, the sockets, the
// drops), and a passing test's log has none.
func TestIntegrationFailureDump(t *testing.T) {
	testenv.RequirePrivilege(t)
	names, out, code := runHelperOutput(t, "TestHelperFailsWithTraffic")
	assert.Equal(t, 1, code, out)
	requireNoneLeft(t, names)
	for _, want := range []string{
		"nstest: the test failed; topology pair at that point:",
		"== client (namespace " + names[0] + ")",
		"== server (namespace " + names[1] + ")",
		"10.200.0.1/30", "10.200.0.2/30",
		"10.200.0.0/30", // the connected route
		"LISTEN", ":8080", "ESTABLISHED", "10.200.0.2:8080",
		"tbf", "rate 100Kbit",
		"net.ipv4.ip_forward=0",
	} {
		assert.Contains(t, out, want)
	}
	// The tbf line: its drops column is not 0.
	m := regexp.MustCompile(`eth0\s+tbf\s+\S+\s+root\s+\d+\s+\d+\s+(\d+)`).FindStringSubmatch(out)
	require.NotNil(t, m, "a tbf line with drops: %s", out)
	drops, _ := strconv.Atoi(m[1])
	assert.Positive(t, drops, "the burst over the rate limit was dropped")

	_, out, code = runHelperOutput(t, "TestHelperPassesWithTopology")
	assert.Equal(t, 0, code, out)
	assert.NotContains(t, out, "at that point")
}

func TestHelperFailsWithTraffic(t *testing.T) {
	helperOnly(t)
	f := nstest.Topology(t, fixture.Pair("client", "server"))
	client, err := f.Namespace("client")
	require.NoError(t, err)
	server, err := f.Namespace("server")
	require.NoError(t, err)
	t.Log("NAMESPACE", client.Name())
	t.Log("NAMESPACE", server.Name())
	addr, err := f.IPv4("server")
	require.NoError(t, err)
	// Left open: the dump is taken in cleanup, after the test's own
	// cleanups and defers, and this helper process ends right after.
	_, err = server.Listen("tcp4", ":8080")
	require.NoError(t, err)
	_, err = client.Dial("tcp", netip.AddrPortFrom(addr, 8080).String())
	require.NoError(t, err)
	link, err := f.Link("client", "eth0")
	require.NoError(t, err)
	require.NoError(t, link.SetRate(100_000))
	udp, err := client.Dial("udp", netip.AddrPortFrom(addr, 9).String())
	require.NoError(t, err)
	for range 300 {
		_, _ = udp.Write(make([]byte, 1400))
	}
	t.Error("failing on purpose")
}

func TestHelperPassesWithTopology(t *testing.T) {
	helperOnly(t)
	f := nstest.Topology(t, fixture.Pair("a", "b"))
	a, err := f.Namespace("a")
	require.NoError(t, err)
	t.Log("NAMESPACE", a.Name())
}

// TestIntegrationPauseOnFailure runs a failing test with
// NSTEST_PAUSE_ON_FAILURE=1 on a terminal: its namespace stays, with the
// line that enters it, until Enter is pressed; then it is removed.
func TestIntegrationPauseOnFailure(t *testing.T) {
	testenv.RequirePrivilege(t)
	master, slave := testenv.OpenPTY(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFailsWithTraffic$", "-test.v")
	cmd.Env = append(os.Environ(), helperEnv+"=1", nstest.PauseEnv+"=1", "CI=")
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Stdin = slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var tty syncbuf.Buffer
	go func() { _, _ = io.Copy(&tty, master) }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(tty.String(), "press Enter") {
		require.True(t, time.Now().Before(deadline), "no pause: %q %q", tty.String(), out.String())
		time.Sleep(5 * time.Millisecond)
	}
	var names []string
	for _, line := range strings.Split(out.String(), "\n") {
		if _, n, ok := strings.Cut(line, "NAMESPACE "); ok {
			names = append(names, strings.TrimSpace(n))
		}
	}
	require.Len(t, names, 2, out.String())
	for _, n := range names {
		assert.Contains(t, tty.String(), "ip netns exec "+n+" sh", "how to enter %s", n)
		_, err := os.Stat(filepath.Join(nsrun.Dir(), n))
		assert.NoError(t, err, "%s is kept while paused", n)
	}
	_, err := master.Write([]byte("\n"))
	require.NoError(t, err)
	require.Error(t, cmd.Wait())
	assert.Equal(t, 1, cmd.ProcessState.ExitCode())
	requireNoneLeft(t, names)
}
