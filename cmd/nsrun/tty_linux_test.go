package main

import (
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/nsrun/nsrun/internal/testuser"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIntegrationTerminal runs nsrun from a shell on a terminal: the
// payload is the foreground process group while it runs, Ctrl-C on the
// terminal reaches it (exit 130), and the shell gets the terminal back.
// The payload traps SIGINT: a plain `sleep 30` after `echo ready` can miss
// a Ctrl-C that lands between the two (the shell notes it, the sleep is
// forked after it, and the shell acts on it only when the sleep ends).
func TestIntegrationTerminal(t *testing.T) {
	testenv.RequirePrivilege(t)
	checkTerminal(t, nsrunBin, nil)
}

// checkTerminal runs bin -- PAYLOAD from a shell on a new terminal (as u,
// unless nil), presses Ctrl-C once the payload runs, and checks that the
// payload was the terminal's foreground group, that Ctrl-C reached it (exit
// 130), and that the shell got the terminal back.
func checkTerminal(t *testing.T, bin string, u *testuser.User) {
	t.Helper()
	master, slave := testenv.OpenPTY(t)
	script := `echo "outer $(ps -o pgid= -p $$)"
` + bin + ` -- sh -c 'trap "exit 130" INT; echo "inner $(ps -o pgid=,tpgid= -p $$)"; echo ready; while :; do sleep 0.05; done'
echo "status $?"
echo "after $(ps -o tpgid= -p $$)"`
	cmd := exec.Command("sh", "-c", script)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if u != nil {
		require.NoError(t, slave.Chown(u.UID, u.GID))
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + u.Home}
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID)}
	}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	out := readAll(master)
	waitText(t, out, "ready")
	_, err := master.Write([]byte{3}) // Ctrl-C
	require.NoError(t, err)
	waitText(t, out, "after")
	require.NoError(t, cmd.Wait())

	word := func(key string) string {
		m := regexp.MustCompile(key + ` +(\d+)`).FindStringSubmatch(out.String())
		if m == nil {
			return ""
		}
		return m[1]
	}
	inner := strings.Fields(out.String()[strings.Index(out.String(), "inner"):])
	require.GreaterOrEqual(t, len(inner), 3, out.String())
	assert.Equal(t, inner[1], inner[2], "payload is the foreground group: %s", out)
	assert.Equal(t, "130", word("status"), "Ctrl-C reached the payload: %s", out)
	assert.Equal(t, word("outer"), word("after"), "the shell has the terminal back: %s", out)
}

// readAll copies what a terminal's master reads into a buffer, until
// the master fails (it is closed in the test's cleanup).
func readAll(master *os.File) *buffer {
	out := &buffer{}
	go func() { _, _ = io.Copy(out, master) }()
	return out
}

// waitText waits until out contains s.
func waitText(t *testing.T, out *buffer, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), s) {
		require.True(t, time.Now().Before(deadline), "no %q in %q", s, out.String())
		time.Sleep(5 * time.Millisecond)
	}
}
