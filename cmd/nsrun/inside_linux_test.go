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

func TestIntegrationInside(t *testing.T) {
	testenv.RequirePrivilege(t)
	r := runNsrun(t, nil, "--hostname", "inside", "--", "sh", "-c",
		`ls /sys/class/net; ip -o link | cut -d: -f2; hostname; echo "ns=$NSRUN_NETNS"; echo "ppid=$PPID"; ls /proc | grep -c '^[0-9]'`)
	require.Equal(t, 0, r.code, r.stderr)
	lines := strings.Fields(r.stdout)
	require.Len(t, lines, 6, r.stdout)
	assert.Equal(t, []string{"lo", "lo", "inside"}, lines[:3], "only the namespace's links, own hostname")
	assert.Regexp(t, `^ns=nsrun-[0-9a-f]{12}$`, lines[3])
	assert.Equal(t, "ppid=1", lines[4], "the reaper is PID 1")
	assert.LessOrEqual(t, lines[5], "4", "a fresh /proc shows only the run's processes")
	host, _ := os.Hostname()
	assert.NotEqual(t, "inside", host)
}

func TestIntegrationPrivilegeDrop(t *testing.T) {
	testenv.RequirePrivilege(t)
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"--user", nil, []string{"--user", "65534"}, "65534 65534 /nonexistent"},
		{"--user name:group", nil, []string{"--user", "nobody:0"}, "65534 0 /nonexistent"},
		{"sudo default", []string{"SUDO_UID=65534", "SUDO_GID=65534", "HOME=/root"}, nil, "65534 65534 /nonexistent"},
		{"sudo --as-root", []string{"SUDO_UID=65534", "SUDO_GID=65534"}, []string{"--as-root"}, "0 0"},
		{"root", nil, nil, "0 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(tc.args, "--", "sh", "-c", `echo $(id -u) $(id -g) $( [ "$(id -u)" = 0 ] || echo $HOME)`)
			r := runNsrun(t, tc.env, args...)
			require.Equal(t, 0, r.code, r.stderr)
			assert.Equal(t, tc.want, strings.TrimSpace(r.stdout))
		})
	}
	// The dropped payload has no privileges left.
	r := runNsrun(t, nil, "--user", "65534", "--", "ip", "link", "add", "x", "type", "veth", "peer", "name", "y")
	assert.NotEqual(t, 0, r.code)
}

func TestIntegrationEtcNetns(t *testing.T) {
	testenv.RequirePrivilege(t)
	name := uniqueName("e2e-etc")
	etc := filepath.Join("/etc/netns", name)
	// A symlinked file in /etc pointing into /run, as resolv.conf often is.
	realDir := t.TempDir()
	real := filepath.Join(realDir, "resolv.conf")
	link := filepath.Join("/etc", name+"-resolv.conf")
	require.NoError(t, os.WriteFile(real, []byte("nameserver 127.0.0.53\n"), 0o644))
	require.NoError(t, os.Symlink(real, link))
	t.Cleanup(func() { assert.NoError(t, os.Remove(link)) })
	t.Cleanup(func() { assert.NoError(t, os.RemoveAll(etc)) })
	// The core removes /etc/netns/NAME with a namespace it made: write it
	// before each run.
	writeEtc := func() {
		require.NoError(t, os.MkdirAll(etc, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(etc, name+"-resolv.conf"), []byte("nameserver 192.0.2.53\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(etc, "hosts"), []byte("192.0.2.1 e2e-host\n"), 0o644))
	}
	writeEtc()
	mountsBefore := countMounts(t, realDir)

	r := runNsrun(t, nil, "--name", name, "--", "sh", "-c", "cat "+link+" /etc/hosts")
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "nameserver 192.0.2.53\n192.0.2.1 e2e-host\n", r.stdout)

	b, err := os.ReadFile(real)
	require.NoError(t, err)
	assert.Equal(t, "nameserver 127.0.0.53\n", string(b), "the host's file is untouched")
	assert.Equal(t, mountsBefore, countMounts(t, realDir), "no mount piled onto the host")

	ns, err := nsrun.New(nsrun.WithName(name))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, ns.Delete()) })
	writeEtc()
	r = runNsrun(t, nil, "exec", name, "--", "cat", link)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Equal(t, "nameserver 192.0.2.53\n", r.stdout, "nsrun exec binds too")
}

// countMounts counts the host's mounts under dir.
func countMounts(t *testing.T, dir string) int {
	b, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	return strings.Count(string(b), " "+dir)
}

func TestIntegrationExec(t *testing.T) {
	testenv.RequirePrivilege(t)
	ns, err := nsrun.New(nsrun.WithName(uniqueName("e2e-exec")))
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, ns.Delete()) })
	out, err := exec.Command("ip", "-n", ns.Name(), "link", "add", "v0", "type", "veth", "peer", "name", "v1").CombinedOutput()
	require.NoError(t, err, "%s", out)

	r := runNsrun(t, nil, "exec", ns.Name(), "--", "sh", "-c", `ls /sys/class/net; echo $NSRUN_NETNS; exit 5`)
	assert.Equal(t, 5, r.code, r.stderr)
	assert.Equal(t, []string{"lo", "v0", "v1", ns.Name()}, strings.Fields(r.stdout))

	// Without --no-pidns nothing survives; with it, a daemon does (ip netns exec semantics).
	r = runNsrun(t, nil, "exec", ns.Name(), "sh", "-c", `setsid sleep 4545.4545 >/dev/null 2>&1 </dev/null &`)
	require.Equal(t, 0, r.code, r.stderr)
	assert.Empty(t, procsWith("4545.4545"))
	r = runNsrun(t, nil, "exec", "--no-pidns", ns.Name(), "sh", "-c", `setsid sleep 4646.4646 >/dev/null 2>&1 </dev/null &`)
	require.Equal(t, 0, r.code, r.stderr)
	daemons := procsWith("4646.4646")
	assert.NotEmpty(t, daemons, "a daemon started with --no-pidns outlives the call")
	require.NoError(t, ns.Delete()) // kills it
	reapOrphans(t, daemons...)
}

func TestIntegrationKeepAndDown(t *testing.T) {
	testenv.RequirePrivilege(t)
	name := uniqueName("e2e-keep")
	r := runNsrun(t, nil, "--keep", "--name", name, "--", "true")
	require.Equal(t, 0, r.code, r.stderr)
	t.Cleanup(func() { _ = nsrun.DeleteNamed(name) })
	assert.Contains(t, r.stderr, "nsrun: kept namespace "+name+"\n")
	assert.Contains(t, r.stderr, "sudo nsrun exec "+name+" -- $SHELL")
	assert.Contains(t, r.stderr, "sudo nsrun down "+name+"\n")

	ls := runNsrun(t, nil, "ls", "--json")
	var entries []lsEntry
	require.NoError(t, json.Unmarshal([]byte(ls.stdout), &entries))
	found := false
	for _, e := range entries {
		if e.Name == name {
			found = true
			assert.Equal(t, "kept", e.Owner)
		}
	}
	assert.True(t, found, "nsrun ls lists the kept namespace: %s", ls.stdout)
	gc := runNsrun(t, nil, "gc", "--dry-run")
	assert.NotContains(t, gc.stdout, name, "gc leaves a kept namespace alone")

	down := runNsrun(t, nil, "down", "-v", name)
	require.Equal(t, 0, down.code, down.stderr)
	requireNoNamespace(t, runDir(), name)
}

func TestIntegrationJSONSummary(t *testing.T) {
	testenv.RequirePrivilege(t)
	file := filepath.Join(t.TempDir(), "summary.json")
	r := runNsrun(t, nil, "-v", "--json", file, "--", "sh", "-c", "exit 3")
	require.Equal(t, 3, r.code, r.stderr)
	assert.Contains(t, r.stderr, "nsrun: created namespace nsrun-")
	assert.Contains(t, r.stderr, "nsrun: removed namespace nsrun-")
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	var s summary
	require.NoError(t, json.Unmarshal(b, &s))
	assert.Equal(t, 3, s.ExitCode)
	assert.Equal(t, "exit status 3", s.Status)
	assert.Equal(t, []string{"sh", "-c", "exit 3"}, s.Command)
	require.Len(t, s.Namespaces, 1)
	assert.Equal(t, []string{"127.0.0.1/8", "::1/128"}, s.Namespaces[0].Addresses["lo"])
	assert.Greater(t, s.Durations.Total, 0.0)
	assert.GreaterOrEqual(t, s.Durations.Total, s.Durations.Setup+s.Durations.Run)
}

// TestIntegrationSudoEnv checks that, run through sudo, the command gets
// the caller's environment (PATH included) as it was before sudo reset it.
// The "sudo" here is a shell named sudo that changes the environment, as
// sudo's env_reset does, before it starts nsrun.
func TestIntegrationSudoEnv(t *testing.T) {
	testenv.RequirePrivilege(t)
	sh, err := os.ReadFile("/bin/sh")
	require.NoError(t, err)
	sudo := filepath.Join(t.TempDir(), "sudo")
	require.NoError(t, os.WriteFile(sudo, sh, 0o755))
	script := `unset ONLY; FOO=reset BAR=given PATH=/usr/sbin:/usr/bin:/sbin:/bin ` + nsrunBin +
		` -- sh -c 'echo "$ONLY $FOO $BAR $(id -u) $PATH"'; exit $?`
	cmd := exec.Command(sudo, "-c", script)
	cmd.Env = append(os.Environ(), "ONLY=caller", "FOO=caller", "SUDO_UID=65534", "SUDO_GID=65534", "PATH=/caller/bin:/usr/bin:/bin")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	// FOO=reset stands for a variable given on sudo's command line: it wins.
	assert.Equal(t, "caller reset given 65534 /caller/bin:/usr/bin:/bin\n", string(out))

	cmd = exec.Command(sudo, "-c", strings.Replace(script, " -- ", " --as-root -- ", 1))
	cmd.Env = append(os.Environ(), "ONLY=caller", "FOO=caller", "SUDO_UID=65534", "SUDO_GID=65534")
	out, err = cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Equal(t, " reset given 0 /usr/sbin:/usr/bin:/sbin:/bin\n", string(out), "root keeps sudo's environment")
}

// TestIntegrationPrivateNetnsDir checks that namespaces the command makes
// (as nstest does in a test binary run by go test -exec nsrun) stay inside
// the run: not visible on the host, never swept from the host (their owner
// records hold pids of the run's PID namespace), gone afterwards.
func TestIntegrationPrivateNetnsDir(t *testing.T) {
	testenv.RequirePrivilege(t)
	inner := uniqueName("e2e-inner")
	r := startNsrun(t, "--", "sh", "-c", `ip netns add `+inner+` &&
echo '{"name":"`+inner+`","pid":2,"start_ticks":1,"creator":"nstest"}' > /run/nsrun/`+inner+`.json &&
echo "$(ip netns list | cut -d' ' -f1 | sort | tr '\n' ' ')" && echo ready && exec sleep 30`)
	r.waitOutput(t, "ready")
	inside := strings.Fields(r.stdout.String())
	assert.Len(t, inside, 3, "own namespace and the one made inside: %v", inside)
	assert.Contains(t, inside, inner)

	_, err := os.Lstat(filepath.Join(runDir(), "netns", inner))
	assert.ErrorIs(t, err, os.ErrNotExist, "a namespace made inside shows on the host")
	gc := runNsrun(t, nil, "gc", "--dry-run")
	assert.NotContains(t, gc.stdout, inner)

	require.NoError(t, r.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 143, r.wait(t))
	requireNoNamespace(t, runDir(), inner)
}
