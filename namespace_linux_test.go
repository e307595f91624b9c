package nsrun_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/owner"
	"github.com/nsrun/nsrun/internal/paths"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
)

func TestIntegrationNewIsSeenByIP(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	n := newNS(t)
	assert.Contains(t, strings.Fields(ip(t, "netns", "list")), n.Name())
	assert.Equal(t, filepath.Join(nsrun.Dir(), n.Name()), n.Path())
	lo := ip(t, "-n", n.Name(), "-o", "link", "show")
	assert.Equal(t, 1, strings.Count(lo, "\n")+1, "only lo inside: %s", lo)
	assert.Contains(t, lo, "lo: <LOOPBACK,UP,LOWER_UP>")
	rec, err := owner.Read(n.Name())
	require.NoError(t, err)
	assert.Equal(t, os.Getpid(), rec.PID)
	assert.Equal(t, filepath.Base(os.Args[0]), rec.Creator)
	assert.True(t, rec.OwnerAlive())

	require.NoError(t, n.Delete())
	requireGone(t, n.Name())
	require.NoError(t, n.Delete(), "Delete is idempotent")
	assert.ErrorIs(t, n.Do(func() error { return nil }), nsrun.ErrClosed)
}

func TestIntegrationOpenWhatIPAdds(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	name := "nsrun-ipadd-" + t.Name()[len(t.Name())-6:]
	ip(t, "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	ip(t, "-n", name, "link", "set", "lo", "up")

	n, err := nsrun.Open(name)
	require.NoError(t, err)
	ln, err := n.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	// The listener lives in the namespace: ss inside sees it, the host does not reach it.
	assert.Contains(t, ip(t, "netns", "exec", name, "ss", "-Hltn"), ln.Addr().String())
	_, err = net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	assert.Error(t, err, "listener must not be reachable from the host namespace")
	require.NoError(t, n.Close())

	require.NoError(t, nsrun.DeleteNamed(name))
	requireGone(t, name)
	assert.ErrorIs(t, nsrun.DeleteNamed(name), os.ErrNotExist)
}

func TestIntegrationLoopbackDownAndSysctls(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	n := newNS(t, nsrun.WithLoopbackDown(),
		nsrun.WithSysctl("net.ipv4.ip_forward", "1"),
		nsrun.WithSysctl("net/ipv6/conf/all/forwarding", "1"))
	assert.NotContains(t, ip(t, "-n", n.Name(), "link", "show", "lo"), "UP")
	assert.Equal(t, "1", ip(t, "netns", "exec", n.Name(), "cat", "/proc/sys/net/ipv4/ip_forward"))
	assert.Equal(t, "1", ip(t, "netns", "exec", n.Name(), "cat", "/proc/sys/net/ipv6/conf/all/forwarding"))
	host, err := os.ReadFile("/proc/sys/net/ipv6/conf/all/forwarding")
	require.NoError(t, err)
	assert.Equal(t, "0\n", string(host), "the host's sysctl must not change")
}

func TestIntegrationBadInputChangesNothing(t *testing.T) {
	testenv.RequirePrivilege(t)
	taken := newNS(t)
	long := strings.Repeat("x", 250+1)
	cases := map[string][]nsrun.Option{
		"empty name":     {nsrun.WithName("")},
		"slash":          {nsrun.WithName("a/b")},
		"dot":            {nsrun.WithName(".")},
		"dotdot":         {nsrun.WithName("..")},
		"too long":       {nsrun.WithName(long)},
		"taken":          {nsrun.WithName(taken.Name())},
		"bad sysctl":     {nsrun.WithSysctl("kernel.hostname", "x")},
		"escape sysctl":  {nsrun.WithSysctl("net/../../kernel/x", "1")},
		"missing sysctl": {nsrun.WithSysctl("net.ipv4.no_such_knob", "1")},
		"bad sysctl val": {nsrun.WithSysctl("net.ipv4.ip_forward", "banana")},
		"long hostname":  {nsrun.WithHostname(strings.Repeat("h", 65))},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			before := snapshot(t, "nsrun-bad-")
			_, err := nsrun.New(append(opts, nsrun.WithPrefix("nsrun-bad-"))...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "create network namespace")
			kernel := name == "taken" || name == "missing sysctl" || name == "bad sysctl val"
			assert.Equal(t, !kernel, errors.Is(err, nsrun.ErrInvalid), "only what validation catches matches ErrInvalid: %v", err)
			assert.Equal(t, before, snapshot(t, "nsrun-bad-"), "a failed New must leave nothing")
		})
	}
	for _, bad := range []string{"", "a/b", ".", "..", long} {
		_, err := nsrun.Open(bad)
		assert.ErrorIs(t, err, nsrun.ErrInvalid)
		assert.ErrorContains(t, err, "namespace name")
		assert.ErrorIs(t, nsrun.DeleteNamed(bad), nsrun.ErrInvalid)
	}
}

// snapshot lists the entries starting with prefix in the namespace
// directory and the record directory, and the namespace mounts with it.
// (Other test binaries may create namespaces meanwhile: look only at ours.)
func snapshot(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	for _, d := range []string{nsrun.Dir(), paths.Records()} {
		entries, err := os.ReadDir(d)
		require.NoError(t, err)
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), prefix) {
				out = append(out, d+"/"+e.Name())
			}
		}
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	require.NoError(t, err)
	out = append(out, fmt.Sprint("mounts:", strings.Count(string(mi), " "+nsrun.Dir()+"/"+prefix)))
	return out
}

func TestIntegrationDeleteKillsProcessesFirst(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	n := newNS(t, nsrun.WithKillGrace(200*time.Millisecond))
	// One process that ignores SIGTERM, started through Command, and one
	// started behind our back by `ip netns exec` and detached with setsid:
	// the case where `ip netns del` alone leaves a nameless namespace alive.
	stubborn := n.Command("sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.05; done")
	ready, err := stubborn.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, stubborn.Start())
	line := make([]byte, 6)
	_, err = io.ReadFull(ready, line)
	require.NoError(t, err, "the shell ignores SIGTERM from here on")
	detached := exec.Command("ip", "netns", "exec", n.Name(), "setsid", "sleep", "60")
	require.NoError(t, detached.Start())
	waitPids(t, n, 2)

	start := time.Now()
	require.NoError(t, n.Delete())
	took := time.Since(start)
	requireGone(t, n.Name())
	assert.Error(t, stubborn.Wait())
	assert.Error(t, detached.Wait())
	assert.GreaterOrEqual(t, took, 200*time.Millisecond, "SIGKILL only after the grace period")
}

func TestIntegrationDeleteWithStackedMounts(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	n := newNS(t)
	// A second mount on the same file makes a single umount leave it busy.
	out, err := exec.Command("mount", "--bind", n.Path(), n.Path()).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NoError(t, n.Delete())
	requireGone(t, n.Name())
}

func TestIntegrationOpenRefusesAStaleFile(t *testing.T) {
	testenv.RequirePrivilege(t)
	name := "nsrun-stale-file"
	path := filepath.Join(nsrun.Dir(), name)
	require.NoError(t, os.WriteFile(path, nil, 0))
	t.Cleanup(func() { os.Remove(path) })
	_, err := nsrun.Open(name)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a network namespace")
	require.NoError(t, nsrun.DeleteNamed(name), "delete removes a stale file")
	_, err = os.Stat(path)
	assert.True(t, errors.Is(err, os.ErrNotExist))
}

func waitPids(t *testing.T, n *nsrun.Namespace, want int) []int {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := n.Pids()
		require.NoError(t, err)
		if len(pids) >= want || time.Now().After(deadline) {
			require.GreaterOrEqual(t, len(pids), want, "processes inside %s", n.Name())
			return pids
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestIntegrationDeleteGroup(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	a, b := newNS(t, nsrun.WithEtcFile("hosts", []byte("# a\n"))), newNS(t, nsrun.WithEtcFile("hosts", []byte("# b\n")))
	require.NoError(t, nsrun.WireNSIDs(a, b))
	h, err := a.Netlink()
	require.NoError(t, err)
	require.NoError(t, h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "va"}, PeerName: "vb", PeerNamespace: netlink.NsFd(b.Fd())}))
	for _, n := range []*nsrun.Namespace{a, b} {
		require.NoError(t, n.Command("sleep", "60").Start())
		_, err := os.Stat(filepath.Join("/etc/netns", n.Name(), "hosts"))
		require.NoError(t, err)
	}
	waitPids(t, a, 1)
	waitPids(t, b, 1)

	require.NoError(t, nsrun.DeleteGroup(a, b, a))
	for _, n := range []*nsrun.Namespace{a, b} {
		requireGone(t, n.Name())
		_, err := os.Stat(filepath.Join("/etc/netns", n.Name()))
		assert.True(t, errors.Is(err, os.ErrNotExist), "/etc/netns/%s goes with the namespace we made", n.Name())
	}
	require.NoError(t, a.Delete(), "already deleted")
}

func TestIntegrationDeleteLeavesAUsersEtcNetns(t *testing.T) {
	testenv.RequirePrivilege(t)
	// The user wrote /etc/netns/NAME before the namespace existed (for
	// `nsrun --name NAME`, say): it is configuration, not ours to remove.
	name := fmt.Sprintf("nsrun-users-etc-%d", os.Getpid())
	etc := filepath.Join("/etc/netns", name)
	require.NoError(t, os.MkdirAll(etc, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(etc, "hosts"), []byte("10.9.9.9 users\n"), 0o644))
	t.Cleanup(func() { os.RemoveAll(etc) })
	n := newNS(t, nsrun.WithName(name))
	// Command binds the user's file, as ip netns exec does.
	out, err := n.Command("cat", "/etc/hosts").Output()
	require.NoError(t, err)
	assert.Equal(t, "10.9.9.9 users\n", string(out))
	require.NoError(t, n.Delete())
	_, err = os.Stat(etc)
	assert.NoError(t, err)
}

func TestIntegrationDeleteLeavesOthersEtcNetns(t *testing.T) {
	testenv.RequirePrivilege(t)
	// /etc/netns/NAME of a namespace we did not make is not ours to remove.
	name := fmt.Sprintf("nsrun-foreign-etc-%d", os.Getpid())
	ip(t, "netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	etc := filepath.Join("/etc/netns", name)
	require.NoError(t, os.MkdirAll(etc, 0o755))
	t.Cleanup(func() { os.RemoveAll(etc) })
	require.NoError(t, nsrun.DeleteNamed(name))
	_, err := os.Stat(etc)
	assert.NoError(t, err)
}

func TestIntegrationNoFallbackTunnels(t *testing.T) {
	testenv.RequireRealRoot(t, "set net.core.fb_tunnels_only_for_init_net, which only the host's own network namespace has")
	// With fb_tunnels_only_for_init_net=0 every new namespace would get
	// tunl0, sit0, ... from loaded tunnel modules; the first New of a
	// process sets it to 1 (the host keeps its own devices).
	const knob = "/proc/sys/net/core/fb_tunnels_only_for_init_net"
	old, err := os.ReadFile(knob)
	if err != nil {
		t.Skipf("kernel without %s: %v", knob, err)
	}
	t.Cleanup(func() { os.WriteFile(knob, old, 0) })
	require.NoError(t, os.WriteFile(knob, []byte("0"), 0))
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=new-and-delete")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	now, err := os.ReadFile(knob)
	require.NoError(t, err)
	assert.Equal(t, "1\n", string(now))
}

func TestIntegrationWithEtcFile(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	n := newNS(t, nsrun.WithEtcFile("hosts", []byte("10.1.2.3 far\n")), nsrun.WithEtcFile("resolv.conf", []byte("nameserver 10.1.2.4\n")))
	etc := filepath.Join("/etc/netns", n.Name())
	rec, err := owner.Read(n.Name())
	require.NoError(t, err)
	assert.True(t, rec.Etc)
	out, err := n.Command("cat", "/etc/hosts", "/etc/resolv.conf").Output()
	require.NoError(t, err)
	assert.Equal(t, "10.1.2.3 far\nnameserver 10.1.2.4\n", string(out), "Command binds the files over /etc")

	// The name is taken: the failed New changes nothing of the other's.
	_, err = nsrun.New(nsrun.WithName(n.Name()), nsrun.WithEtcFile("hosts", nil))
	require.ErrorIs(t, err, os.ErrExist)
	b, err := os.ReadFile(filepath.Join(etc, "hosts"))
	require.NoError(t, err)
	assert.Equal(t, "10.1.2.3 far\n", string(b))

	require.NoError(t, n.Delete())
	_, err = os.Stat(etc)
	assert.True(t, errors.Is(err, os.ErrNotExist))
}

func TestIntegrationWithEtcFileRefusesAUsersDirectory(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	name := fmt.Sprintf("nsrun-users-etcdir-%d", os.Getpid())
	etc := filepath.Join("/etc/netns", name)
	require.NoError(t, os.MkdirAll(etc, 0o755))
	t.Cleanup(func() { os.RemoveAll(etc) })
	_, err := nsrun.New(nsrun.WithName(name), nsrun.WithEtcFile("hosts", nil))
	require.ErrorIs(t, err, os.ErrExist)
	assert.Contains(t, err.Error(), etc)
	requireGone(t, name)
	_, err = os.Stat(etc)
	assert.NoError(t, err, "the user's directory stays")
	entries, _ := os.ReadDir(etc)
	assert.Empty(t, entries, "nothing written into it")
}

func TestWithEtcFileRejectsBadNames(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", "x\x00"} {
		_, err := nsrun.New(nsrun.WithEtcFile(name, nil))
		assert.ErrorIs(t, err, nsrun.ErrInvalid, "%q", name)
	}
	_, err := nsrun.New(nsrun.WithEtcFile("hosts", nil), nsrun.WithEtcFile("hosts", nil))
	assert.ErrorIs(t, err, nsrun.ErrInvalid, "the same file twice")
}
