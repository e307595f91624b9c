package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIntegrationFailureState: when the command fails, -v prints the state
// of every node on stderr and --json holds it; a command that succeeds
// gets neither.
func TestIntegrationFailureState(t *testing.T) {
	testenv.RequirePrivilege(t)
	topo := filepath.Join(repoRoot(t), "examples", "pair.yaml")
	js := filepath.Join(t.TempDir(), "sum.json")
	res := runNsrun(t, nil, "-v", "--json", js, "--topology", topo, "--", "sh", "-c", "ping -c1 -W1 server >/dev/null; exit 3")
	require.Equal(t, 3, res.code, res.stderr)
	for _, want := range []string{"the command failed; the topology pair at that point:", "== client (namespace pair-client-", "== server (namespace pair-server-", "10.200.0.1/30", "10.200.0.2/30", "neighbours:", "diagram (Mermaid, live state):", "flowchart"} {
		assert.Contains(t, res.stderr, want)
	}
	var sum struct {
		FailureState []struct {
			Label string `json:"label"`
			Links []struct {
				Name  string   `json:"name"`
				Addrs []string `json:"addresses"`
				TX    struct {
					Packets uint64 `json:"packets"`
				} `json:"tx"`
			} `json:"links"`
		} `json:"failure_state"`
	}
	b, err := os.ReadFile(js)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &sum))
	require.Len(t, sum.FailureState, 2, "%s", b)
	assert.Equal(t, "client", sum.FailureState[0].Label)
	var eth0Tx uint64
	for _, l := range sum.FailureState[0].Links {
		if l.Name == "eth0" {
			eth0Tx = l.TX.Packets
			assert.Contains(t, l.Addrs, "10.200.0.1/30")
		}
	}
	assert.Positive(t, eth0Tx, "the ping went out on eth0")

	res = runNsrun(t, nil, "-v", "--json", js, "--topology", topo, "--", "true")
	require.Equal(t, 0, res.code, res.stderr)
	assert.NotContains(t, res.stderr, "at that point")
	b, err = os.ReadFile(js)
	require.NoError(t, err)
	assert.NotContains(t, string(b), "failure_state")
}

// TestIntegrationPauseOnFailure runs nsrun --pause-on-failure on a
// terminal: the failed command's namespace stays until Enter is pressed,
// and the pause says how to enter it. Without a terminal, or in CI, there
// is no pause.
func TestIntegrationPauseOnFailure(t *testing.T) {
	testenv.RequirePrivilege(t)
	name := uniqueName("pause")
	master, slave := testenv.OpenPTY(t)
	cmd := exec.Command(nsrunBin, "--pause-on-failure", "--name", name, "--", "false")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.Env = append(os.Environ(), "CI=")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	out := readAll(master)
	waitText(t, out, "press Enter")
	assert.Contains(t, out.String(), "sudo nsrun exec "+name+" -- sh")
	_, err := os.Stat(filepath.Join(nsrun.Dir(), name))
	require.NoError(t, err, "the namespace is kept while paused")
	_, err = master.Write([]byte("\n"))
	require.NoError(t, err)
	require.Error(t, cmd.Wait(), "false fails")
	assert.Equal(t, 1, cmd.ProcessState.ExitCode())
	_, err = os.Stat(filepath.Join(nsrun.Dir(), name))
	assert.ErrorIs(t, err, os.ErrNotExist, "removed after Enter")

	// No terminal (a session of its own has none), or CI set even with one.
	for _, tc := range []struct {
		env []string
		tty bool
	}{{[]string{"CI="}, false}, {[]string{"CI=true"}, true}} {
		cmd := exec.Command(nsrunBin, "--pause-on-failure", "--", "false")
		cmd.Env = append(os.Environ(), tc.env...)
		var stderr buffer
		cmd.Stderr = &stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if tc.tty {
			_, slave := testenv.OpenPTY(t)
			cmd.Stdin = slave
			cmd.SysProcAttr.Setctty = true
		}
		require.Error(t, cmd.Run())
		assert.Equal(t, 1, cmd.ProcessState.ExitCode())
		assert.Contains(t, stderr.String(), "no pause: no terminal", "env %v", tc.env)
		assert.Equal(t, 1, strings.Count(stderr.String(), "\n"), stderr.String())
	}
}
