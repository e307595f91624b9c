package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nsrun/nsrun/internal/reexec"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIntegrationExitCodes(t *testing.T) {
	testenv.RequirePrivilege(t)
	notExec := filepath.Join(t.TempDir(), "not-executable")
	require.NoError(t, os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644))
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string // prefix of the one-line reason, for nsrun's own codes
	}{
		{"exit 0", []string{"--", "true"}, 0, ""},
		{"exit 1", []string{"sh", "-c", "exit 1"}, 1, ""},
		{"exit 3", []string{"--", "sh", "-c", "exit 3"}, 3, ""},
		{"SIGKILL", []string{"sh", "-c", "kill -KILL $$"}, 137, ""},
		{"SIGSEGV", []string{"sh", "-c", "kill -SEGV $$"}, 139, ""},
		{"timeout", []string{"--timeout", "100ms", "--", "sleep", "30"}, 124, ""},
		{"bad flag", []string{"--no-such-flag", "true"}, 125, "nsrun: flag provided but not defined: -no-such-flag (see nsrun --help)\n"},
		{"bad duration", []string{"--timeout", "soon", "true"}, 125, "nsrun: invalid value \"soon\" for flag -timeout"},
		{"no command", []string{"-v"}, 125, "nsrun: no command given (see nsrun --help)\n"},
		{"unknown user", []string{"--user", "no-such-user-nsrun", "true"}, 125, "nsrun: look up user no-such-user-nsrun"},
		{"user and root", []string{"--user", "65534", "--as-root", "true"}, 125, "nsrun: --user and --as-root exclude each other"},
		{"not found", []string{"no-such-command-nsrun"}, 127, "nsrun: run no-such-command-nsrun: executable file not found in $PATH\n"},
		{"not found path", []string{"/no/such/command"}, 127, "nsrun: run /no/such/command: "},
		{"not executable", []string{notExec}, 126, "nsrun: run " + notExec + ": permission denied\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runNsrun(t, nil, tc.args...)
			assert.Equal(t, tc.code, r.code, "stderr: %s", r.stderr)
			if tc.stderr != "" {
				assert.Contains(t, r.stderr, tc.stderr)
				assert.Equal(t, 1, countLines(r.stderr), "one line: %q", r.stderr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"exec", "--help"}, {"ls", "--help"},
		{"gc", "-h"}, {"up", "--help"}, {"down", "--help"}, {"help", "exec"}} {
		r := runNsrun(t, nil, args...)
		assert.Equal(t, 0, r.code, "%v: %s", args, r.stderr)
		assert.Contains(t, r.stdout, "Usage:", "%v", args)
		assert.Contains(t, r.stdout, "Examples:", "%v", args)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"exec"}, "nsrun: usage: nsrun exec NAME [--] COMMAND [ARG...] (see nsrun exec --help)\n"},
		{[]string{"exec", "no-such-ns-nsrun", "--", "true"}, openNamespaceError()},
		{[]string{"ls", "extra"}, "nsrun: unexpected argument extra (see nsrun ls --help)\n"},
		{[]string{"gc", "--bogus"}, "nsrun: flag provided but not defined: -bogus (see nsrun gc --help)\n"},
		{[]string{"down"}, "nsrun: no name given (see nsrun down --help)\n"},
		{[]string{"--node", "x", "true"}, "nsrun: --node needs --topology (see nsrun --help)\n"},
		{[]string{"--topology", "/no/such.yaml", "true"}, "nsrun: read topology: open /no/such.yaml: no such file or directory\n"},
	} {
		r := runNsrun(t, nil, tc.args...)
		assert.Equal(t, 125, r.code, "%v: %s", tc.args, r.stderr)
		assert.Contains(t, r.stderr, tc.stderr, "%v", tc.args)
	}
}

// openNamespaceError is how nsrun exec says that a namespace is not
// there: as root it cannot open it; without root (rootless) no topology
// of the user's holds it.
func openNamespaceError() string {
	if reexec.Privileged() {
		return "nsrun: open namespace: "
	}
	return "nsrun: no rootless namespace no-such-ns-nsrun"
}

func countLines(s string) int {
	n := 0
	for _, c := range s {
		if c == '\n' {
			n++
		}
	}
	return n
}

// TestNotRootWithoutUserNamespaces runs nsrun without privilege where no
// user namespace may be made: in a user namespace of the test's whose
// user.max_user_namespaces is 0, without capabilities. nsrun cannot run
// rootless then, and says why, and how to lift it, on one line.
func TestNotRootWithoutUserNamespaces(t *testing.T) {
	for _, tool := range []string{"unshare", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: %v", tool, err)
		}
	}
	if err := reexec.Detect(); err != nil {
		t.Skipf("user namespaces are blocked here already: %v", err)
	}
	dir, err := os.MkdirTemp("", "nsrun-notroot-")
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, os.RemoveAll(dir)) })
	require.NoError(t, os.Chmod(dir, 0o755))
	b, err := os.ReadFile(nsrunBin)
	require.NoError(t, err)
	bin := filepath.Join(dir, "nsrun")
	require.NoError(t, os.WriteFile(bin, b, 0o755))
	cmd := exec.Command("unshare", "--user", "--map-root-user", "--", "sh", "-c",
		`echo 0 > /proc/sys/user/max_user_namespaces && exec setpriv --bounding-set=-all --inh-caps=-all "$0" -- true`, bin)
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	require.IsType(t, &exec.ExitError{}, err, "%v: %s", err, out)
	assert.Equal(t, 125, cmd.ProcessState.ExitCode(), "%s", out)
	assert.Contains(t, string(out), "nsrun: cannot run without root: user namespaces are blocked: user.max_user_namespaces=0 allows none")
	assert.Contains(t, string(out), "lift it with `sudo sysctl -w user.max_user_namespaces=15000`")
	assert.Equal(t, 1, countLines(string(out)), "%s", out)
}

// TestIntegrationFailedCreateEndsReaper checks that the reaper, which
// starts while the namespace is made, is gone when making it fails.
func TestIntegrationFailedCreateEndsReaper(t *testing.T) {
	testenv.RequirePrivilege(t)
	dir := privateDir(t)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "netns"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "netns", "taken"), nil, 0o644))
	r := runNsrunIn(t, dir, "--name", "taken", "--", "sleep", "4343.4346")
	assert.Equal(t, 125, r.code, r.stderr)
	assert.Contains(t, r.stderr, "nsrun: create network namespace taken: ")
	assert.NotContains(t, r.stderr, "create namespace: create", "one prefix, not two")
	assert.Equal(t, 1, countLines(r.stderr), "one line: %q", r.stderr)
	assert.Empty(t, procsWith("4343.4346"), "the reaper outlived the failed run")
	require.NoError(t, os.Remove(filepath.Join(dir, "netns", "taken")))
}
