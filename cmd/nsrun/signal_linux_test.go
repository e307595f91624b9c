package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// trapScript prints ready, then waits; on sig it reports and exits 7.
func trapScript(sig string) string {
	return `trap 'echo got ` + sig + `; exit 7' ` + sig + `; echo ready; while :; do sleep 0.02; done`
}

func TestIntegrationForwardedSignals(t *testing.T) {
	testenv.RequirePrivilege(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT} {
		name := strings.TrimPrefix(signalName(sig), "SIG")
		t.Run(name, func(t *testing.T) {
			r := startNsrun(t, "--", "sh", "-c", trapScript(name))
			r.waitOutput(t, "ready")
			require.NoError(t, r.cmd.Process.Signal(sig))
			assert.Equal(t, 7, r.wait(t), "stderr: %s", r.stderr)
			assert.Contains(t, r.stdout.String(), "got "+name)
		})
	}
}

func TestIntegrationDeathBySignal(t *testing.T) {
	testenv.RequirePrivilege(t)
	// No trap: the payload dies from the forwarded signal itself.
	r := startNsrun(t, "--", "sh", "-c", `echo ready; exec sleep 30`)
	r.waitOutput(t, "ready")
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 128+int(syscall.SIGTERM), r.wait(t), "stderr: %s", r.stderr)
}

func TestIntegrationSecondSIGINTKills(t *testing.T) {
	testenv.RequirePrivilege(t)
	r := startNsrun(t, "--", "sh", "-c", `trap 'echo got INT' INT; echo ready; while :; do sleep 0.02; done`)
	r.waitOutput(t, "ready")
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGINT))
	r.waitOutput(t, "got INT")
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGINT))
	assert.Equal(t, 137, r.wait(t), "stderr: %s", r.stderr)
}

func TestIntegrationGraceAfterSIGTERM(t *testing.T) {
	testenv.RequirePrivilege(t)
	r := startNsrun(t, "--grace", "200ms", "--", "sh", "-c", `trap 'echo got TERM' TERM; echo ready; while :; do sleep 0.02; done`)
	r.waitOutput(t, "ready")
	start := time.Now()
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 137, r.wait(t), "stderr: %s", r.stderr)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Contains(t, r.stdout.String(), "got TERM")
}

func TestIntegrationTimeoutEscalates(t *testing.T) {
	testenv.RequirePrivilege(t)
	start := time.Now()
	res := runNsrun(t, nil, "--timeout", "100ms", "--grace", "100ms", "--", "sh", "-c", `trap '' TERM; sleep 30`)
	assert.Equal(t, 124, res.code, res.stderr)
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestIntegrationDaemonGone(t *testing.T) {
	testenv.RequirePrivilege(t)
	marker := "4242.4242"
	script := `setsid sleep ` + marker + ` </dev/null >/dev/null 2>&1 &
sleep ` + marker + ` </dev/null >/dev/null 2>&1 &
(sleep ` + marker + ` &) ; echo started`
	r := runNsrun(t, nil, "--", "sh", "-c", script)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "started\n", r.stdout)
	assert.Empty(t, procsWith(marker), "a daemon outlived the run")
}

func TestIntegrationKilledThenGC(t *testing.T) {
	testenv.RequirePrivilege(t)
	dir := privateDir(t)
	r := startNsrunIn(t, dir, "--", "sh", "-c", `echo "ns=$NSRUN_NETNS"; echo ready; exec sleep 4343.4343`)
	r.waitOutput(t, "ready")
	name := strings.TrimPrefix(strings.Fields(r.stdout.String())[0], "ns=")
	reaper := childrenOf(r.cmd.Process.Pid)
	require.Len(t, reaper, 1)
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGKILL))
	r.wait(t)
	reapOrphans(t, reaper...)
	require.Eventually(t, func() bool { return len(procsWith("4343.4343")) == 0 }, 5*time.Second, 10*time.Millisecond,
		"the payload survived nsrun's SIGKILL")

	ls := runNsrunIn(t, dir, "ls", "--json")
	require.Equal(t, 0, ls.code, ls.stderr)
	var entries []lsEntry
	require.NoError(t, json.Unmarshal([]byte(ls.stdout), &entries))
	require.Len(t, entries, 1)
	assert.Equal(t, name, entries[0].Name)
	assert.Equal(t, "dead", entries[0].Owner)
	assert.Equal(t, 0, entries[0].Processes)

	dry := runNsrunIn(t, dir, "gc", "--dry-run")
	assert.Equal(t, "would remove "+name, firstWords(dry.stdout, 3))
	_, err := os.Lstat(filepath.Join(dir, "netns", name))
	require.NoError(t, err, "gc --dry-run removed the namespace")

	gc := runNsrunIn(t, dir, "gc")
	require.Equal(t, 0, gc.code, gc.stderr)
	assert.Equal(t, "removed "+name, firstWords(gc.stdout, 2))
	requireNoNamespace(t, dir, name)
}

func TestIntegrationNextRunSweeps(t *testing.T) {
	testenv.RequirePrivilege(t)
	dir := privateDir(t)
	r := startNsrunIn(t, dir, "--", "sh", "-c", `echo "ns=$NSRUN_NETNS"; exec sleep 30`)
	r.waitOutput(t, "ns=")
	name := strings.TrimPrefix(strings.Fields(r.stdout.String())[0], "ns=")
	reaper := childrenOf(r.cmd.Process.Pid)
	require.NoError(t, r.cmd.Process.Signal(syscall.SIGKILL))
	r.wait(t)
	reapOrphans(t, reaper...)

	next := runNsrunIn(t, dir, "-v", "--", "true")
	require.Equal(t, 0, next.code, next.stderr)
	assert.Contains(t, next.stderr, "nsrun: removed leftover namespace "+name)
	requireNoNamespace(t, dir, name)
}

// firstWords returns the first n words of s.
func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}

func signalName(sig syscall.Signal) string {
	return map[syscall.Signal]string{syscall.SIGINT: "SIGINT", syscall.SIGTERM: "SIGTERM",
		syscall.SIGHUP: "SIGHUP", syscall.SIGQUIT: "SIGQUIT"}[sig]
}
