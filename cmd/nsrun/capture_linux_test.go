package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/nsrun/nsrun/internal/capture"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// captureLine is what nsrun says of a kept capture.
var captureLine = regexp.MustCompile(`nsrun: capture: (\S+) \((\d+) packets, (\d+) dropped\)`)

// keptCapture returns the file a run's stderr names, read back.
func keptCapture(t *testing.T, stderr string) (string, *capture.File) {
	t.Helper()
	m := captureLine.FindStringSubmatch(stderr)
	require.NotNil(t, m, "nsrun names the capture on stderr: %s", stderr)
	r, err := os.Open(m[1])
	require.NoError(t, err)
	defer r.Close()
	f, err := capture.Read(r)
	require.NoError(t, err)
	return m[1], f
}

// TestIntegrationCaptureTopology: a failing command keeps the capture of
// every node of its topology, named on stderr; tcpdump reads the pings
// between the nodes in it; a command that succeeds leaves nothing, unless
// --capture-keep.
func TestIntegrationCaptureTopology(t *testing.T) {
	testenv.RequirePrivilege(t)
	dir := filepath.Join(t.TempDir(), "captures")
	topo := filepath.Join("..", "..", "examples", "pair.yaml")
	r := runNsrun(t, nil, "--capture", dir, "--topology", topo, "--", "sh", "-c", "ping -c2 -i0.2 server >/dev/null; exit 3")
	require.Equal(t, 3, r.code, "%s", r.stderr)
	path, f := keptCapture(t, r.stderr)
	assert.Equal(t, filepath.Join(dir, "pair.pcapng"), path)
	assert.Contains(t, f.Interfaces, "client/eth0")
	assert.Contains(t, f.Interfaces, "server/eth0")
	assert.Contains(t, f.Comments[0], "nsrun capture of nsrun topology pair")
	if tcpdump, err := exec.LookPath("tcpdump"); err == nil {
		out, err := exec.Command(tcpdump, "-n", "-r", path, "icmp6 or icmp").CombinedOutput()
		require.NoError(t, err, "%s", out)
		// Two echo requests, each seen leaving client and entering server.
		assert.Equal(t, 4, strings.Count(string(out), "echo request"), "%s", out)
		assert.Equal(t, 4, strings.Count(string(out), "echo reply"), "%s", out)
	} else if testenv.Strict() {
		t.Fatal(err)
	}

	// Success: nothing is written.
	require.NoError(t, os.Remove(path))
	r = runNsrun(t, nil, "--capture", dir, "--topology", topo, "--", "ping", "-c1", "server")
	require.Equal(t, 0, r.code, "%s", r.stderr)
	assert.NotContains(t, r.stderr, "capture")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)

	r = runNsrun(t, nil, "--capture", dir, "--capture-keep", "--topology", topo, "--", "ping", "-c1", "server")
	require.Equal(t, 0, r.code, "%s", r.stderr)
	path, _ = keptCapture(t, r.stderr)
	assert.Equal(t, filepath.Join(dir, "pair.pcapng"), path)
}

// TestIntegrationCaptureBelongsToTheSudoCaller: run through sudo, the
// capture file (and the directories nsrun makes for it) belongs to the
// user the command runs as, as the command's own files do.
func TestIntegrationCaptureBelongsToTheSudoCaller(t *testing.T) {
	testenv.RequireRealRoot(t, "switch to another user")
	dir := filepath.Join(t.TempDir(), "a", "b")
	r := runNsrun(t, []string{"SUDO_UID=12345", "SUDO_GID=12346"}, "--capture", dir, "--", "/bin/sh", "-c", "exit 1")
	require.Equal(t, 1, r.code, "%s", r.stderr)
	path, f := keptCapture(t, r.stderr)
	assert.Empty(t, f.Packets)
	for _, p := range []string{path, dir, filepath.Dir(dir)} {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		assert.Equal(t, []uint32{12345, 12346}, []uint32{st.Uid, st.Gid}, p)
	}
}

// TestIntegrationCaptureRootless: without root, nsrun captures its own
// namespaces as well, and the file is the user's.
func TestIntegrationCaptureRootless(t *testing.T) {
	rl := newRootless(t)
	dir := rl.u.Dir(t, true)
	r := rl.run(t, dir, nil, "--capture", "caps", "--", "sh", "-c", "ping -c1 127.0.0.1 >/dev/null; exit 1")
	require.Equal(t, 1, r.code, "%s", r.stderr)
	path, f := keptCapture(t, r.stderr)
	assert.True(t, strings.HasPrefix(path, filepath.Join(dir, "caps", "nsrun-")), path)
	assert.Len(t, f.Packets, 2, "echo request and reply, on lo")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, uint32(rl.u.UID), fi.Sys().(*syscall.Stat_t).Uid)
}

func TestCaptureFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--capture-keep", "--", "true"},
		{"--capture-limit", "64MiB", "--", "true"},
		{"--capture", "d", "--capture-limit", "1KiB", "--", "true"},
		{"--capture", "d", "--capture-limit", "lots", "--", "true"},
		{"--capture", "d", "--capture-snaplen", "10", "--", "true"},
	} {
		r := runNsrun(t, nil, args...)
		assert.Equal(t, 125, r.code, "%v", args)
		assert.Contains(t, r.stderr, "--capture", "%v", args)
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %s", r.stderr)
	}
}
