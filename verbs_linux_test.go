package nsrun_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/nsthread"
	"github.com/nsrun/nsrun/internal/owner"
	"github.com/nsrun/nsrun/internal/paths"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
)

func TestIntegrationListAndSetIDMatchIP(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	a, b := newNS(t), newNS(t)
	require.NoError(t, nsrun.SetNSID(a.Name(), 4001))
	require.NoError(t, nsrun.SetNSID(a.Name(), 4001), "setting the same id again is fine")
	require.Error(t, nsrun.SetNSID(a.Name(), 4002), "an id cannot change")
	require.NoError(t, nsrun.SetNSID(b.Name(), nsrun.NoNSID))

	list, err := nsrun.List()
	require.NoError(t, err)
	got := map[string]int{}
	for _, e := range list {
		got[e.Name] = e.NSID
	}
	// ip netns list prints "NAME (id: N)" for each name with an id.
	want := map[string]int{}
	for _, line := range strings.Split(ip(t, "netns", "list"), "\n") {
		var name string
		id := nsrun.NoNSID
		if n, _ := fmt.Sscanf(line, "%s (id: %d)", &name, &id); n >= 1 {
			want[name] = id
		}
	}
	assert.Equal(t, 4001, got[a.Name()])
	assert.Equal(t, want[a.Name()], got[a.Name()])
	assert.Equal(t, want[b.Name()], got[b.Name()])
	assert.GreaterOrEqual(t, got[b.Name()], 0)
}

func TestIntegrationWhatIPSetsTheLibrarySees(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	a, b := newNS(t), newNS(t)
	ip(t, "netns", "set", a.Name(), "4101")
	// ip -n A netns set B 77: A's id for B.
	ip(t, "-n", a.Name(), "netns", "set", b.Name(), "77")
	id, err := a.NSID(b)
	require.NoError(t, err)
	assert.Equal(t, 77, id)
	id, err = b.NSID(a)
	require.NoError(t, err)
	assert.Equal(t, nsrun.NoNSID, id)

	// The man page's list-id example: target-nsid converts ids.
	target := 4101
	entries, err := nsrun.ListNSIDs(target, nsrun.NoNSID)
	require.NoError(t, err)
	require.Len(t, entries, 1, "A has one id: for B")
	assert.Equal(t, 77, entries[0].NSID)
	out := ip(t, "netns", "list-id", "target-nsid", "4101")
	assert.Contains(t, out, "nsid 77 ")

	all, err := nsrun.ListNSIDs(nsrun.NoNSID, target)
	require.NoError(t, err)
	require.Len(t, all, 1)
	assert.Equal(t, nsrun.NSIDEntry{NSID: 4101, CurrentNSID: nsrun.NoNSID, Name: a.Name()}, all[0])
	assert.Contains(t, ip(t, "netns", "list-id", "nsid", "4101"), "nsid 4101 (iproute2 netns name: "+a.Name()+")")
}

func TestIntegrationWireNSIDs(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	a, b, c := newNS(t), newNS(t), newNS(t)
	require.NoError(t, a.SetNSID(b, 9), "a chosen id is kept by WireNSIDs")
	require.NoError(t, nsrun.WireNSIDs(a, b, c))
	require.NoError(t, nsrun.WireNSIDs(a, b, c), "wiring twice is fine")
	for _, x := range []*nsrun.Namespace{a, b, c} {
		for _, y := range []*nsrun.Namespace{a, b, c} {
			if x == y {
				continue
			}
			id, err := x.NSID(y)
			require.NoError(t, err)
			assert.GreaterOrEqual(t, id, 0, "%s has an id for %s", x, y)
		}
	}
	id, _ := a.NSID(b)
	assert.Equal(t, 9, id)
	assert.ErrorContains(t, a.SetNSID(b, 10), "already 9")

	// A veth across wired namespaces reports the wired id as its link-netnsid.
	h, err := a.Netlink()
	require.NoError(t, err)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "va"}, PeerName: "vb", PeerNamespace: netlink.NsFd(b.Fd())}
	require.NoError(t, h.LinkAdd(veth))
	l, err := h.LinkByName("va")
	require.NoError(t, err)
	assert.Equal(t, 9, l.Attrs().NetNsID)
	assert.Contains(t, ip(t, "-n", a.Name(), "link", "show", "va"), "link-netns "+b.Name())
}

func TestIntegrationDeleteTakesVethPeersAlong(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	a, b := newNS(t), newNS(t)
	h, err := a.Netlink()
	require.NoError(t, err)
	require.NoError(t, h.LinkAdd(&netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "va"}, PeerName: "vb", PeerNamespace: netlink.NsFd(b.Fd())}))
	require.NoError(t, a.Delete())
	// The peer is gone at once, not when the kernel destroys a's namespace.
	assert.NotContains(t, ip(t, "-n", b.Name(), "-o", "link"), "vb")
}

func TestIntegrationIdentifyPidsAttach(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	n := newNS(t)
	cmd := n.Command("sleep", "30")
	require.NoError(t, cmd.Start())
	pids := waitPids(t, n, 1)
	assert.Equal(t, []int{cmd.Process.Pid}, pids)

	names, err := nsrun.Identify(cmd.Process.Pid)
	require.NoError(t, err)
	assert.Equal(t, []string{n.Name()}, names)
	assert.Equal(t, n.Name(), ip(t, "netns", "identify", strconv.Itoa(cmd.Process.Pid)))
	byName, err := nsrun.Pids(n.Name())
	require.NoError(t, err)
	assert.Equal(t, pids, byName)
	assert.Equal(t, strconv.Itoa(cmd.Process.Pid), ip(t, "netns", "pids", n.Name()))

	// Attach a second name to the same namespace: identify sees both.
	alias := n.Name() + "-alias"
	att, err := nsrun.Attach(alias, cmd.Process.Pid)
	require.NoError(t, err)
	t.Cleanup(func() { nsrun.DeleteNamed(alias) })
	names, err = nsrun.Identify(cmd.Process.Pid)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{n.Name(), alias}, names)
	_, err = owner.Read(alias)
	assert.ErrorIs(t, err, os.ErrNotExist, "attach writes no owner record")
	require.NoError(t, att.Close())
	_, err = nsrun.Attach(alias, cmd.Process.Pid)
	assert.ErrorIs(t, err, os.ErrExist)
}

func TestIntegrationAttachingTheHostNeverKillsIt(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	name := fmt.Sprintf("nsrun-hostalias-%d", os.Getpid())
	att, err := nsrun.Attach(name, os.Getpid())
	require.NoError(t, err)
	assert.Contains(t, strings.Fields(ip(t, "netns", "list")), name)
	require.NoError(t, att.Delete(), "deleting a name for the host namespace only removes the name")
	requireGone(t, name)
}

func TestIntegrationMonitorSeesIPAddAndDel(t *testing.T) {
	testenv.RequirePrivilege(t)
	ctx, cancel := context.WithCancel(context.Background())
	events, err := nsrun.Monitor(ctx)
	require.NoError(t, err)
	name := fmt.Sprintf("nsrun-mon-%d", os.Getpid())
	ip(t, "netns", "add", name)
	ip(t, "netns", "del", name)
	var got []nsrun.Event
	timeout := time.After(5 * time.Second)
	for len(got) < 2 {
		select {
		case e := <-events:
			if e.Name == name {
				got = append(got, e)
			}
		case <-timeout:
			t.Fatalf("events: %v", got)
		}
	}
	assert.Equal(t, []nsrun.Event{{Name: name}, {Name: name, Deleted: true}}, got)
	cancel()
	for range events {
	}
}

func TestIntegrationSweepRemovesACrashedOwnersLeftovers(t *testing.T) {
	testenv.RequirePrivilege(t)
	// Any test binary running beside this one sweeps dead owners' leftovers
	// too (nstest.New does, once per process). Run the scenario in a child
	// with a namespace directory of its own, so nobody else sweeps it.
	if os.Getenv(paths.NetnsEnv) == "" {
		dir, err := os.MkdirTemp("", "nsrun-sweep")
		require.NoError(t, err)
		netnsDir := filepath.Join(dir, "netns")
		t.Cleanup(func() {
			syscall.Unmount(netnsDir, syscall.MNT_DETACH) // New made it a mount point
			os.RemoveAll(dir)
		})
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.v")
		cmd.Env = append(os.Environ(), paths.NetnsEnv+"="+netnsDir)
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.Contains(t, string(out), "--- PASS: "+t.Name())
		return
	}
	// Neither a namespace of a live owner, nor one we did not make (no
	// record), nor a kept one is swept. (Made first: nstest.New sweeps
	// once per process, which would take the crashed one away too early.)
	live, kept, foreign := newNS(t), newNS(t), newNS(t)
	require.NoError(t, kept.Keep())
	require.NoError(t, os.Remove(filepath.Join(paths.Records(), foreign.Name()+".json")))

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnv+"=create-and-die")
	out, _ := cmd.Output() // dies by SIGKILL
	name := strings.TrimSpace(string(out))
	require.NotEmpty(t, name, "the helper prints the namespace it made")
	t.Cleanup(func() { nsrun.DeleteNamed(name) })
	rec, err := owner.Read(name)
	require.NoError(t, err)
	assert.False(t, rec.OwnerAlive())
	pids, err := nsrun.Pids(name)
	require.NoError(t, err)
	require.Len(t, pids, 1, "the crashed owner's child lives on inside")

	dry, err := owner.Sweep(true, nsrun.DeleteNamed)
	require.NoError(t, err)
	assert.Equal(t, []string{name}, recordNames(dry))
	assert.Contains(t, listNames(t), name, "dry run removes nothing")

	swept, err := owner.Sweep(false, nsrun.DeleteNamed)
	require.NoError(t, err)
	assert.Equal(t, []string{name}, recordNames(swept))
	assert.NotContains(t, listNames(t), name)
	assert.Subset(t, listNames(t), []string{live.Name(), kept.Name(), foreign.Name()})
	_, err = owner.Read(name)
	assert.ErrorIs(t, err, os.ErrNotExist)
	_, err = os.Stat(fmt.Sprintf("/proc/%d/ns/net", pids[0]))
	assert.Error(t, err, "the process inside was killed")
}

func listNames(t *testing.T) []string {
	t.Helper()
	list, err := nsrun.List()
	require.NoError(t, err)
	var names []string
	for _, e := range list {
		names = append(names, e.Name)
	}
	return names
}

func recordNames(rs []owner.Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Name)
	}
	return out
}

func TestIntegrationOwnerInAnotherPIDNamespace(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Parallel()
	// An owner whose pid is only meaningful in another PID namespace counts
	// as alive while that PID namespace has processes, and dead after.
	other := exec.Command("unshare", "--pid", "--fork", "--kill-child", "sleep", "60")
	require.NoError(t, other.Start())
	var ino, uid uint64
	var child int
	require.Eventually(t, func() bool {
		// The forked child is the one in the new PID namespace.
		kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", other.Process.Pid, other.Process.Pid))
		if len(strings.Fields(string(kids))) == 0 {
			return false
		}
		child, _ = strconv.Atoi(strings.Fields(string(kids))[0])
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+strings.Fields(string(kids))[0]+"/ns/pid", &st) != nil {
			return false
		}
		ino = st.Ino
		uid, _ = nsthread.UniqueIDAt("/proc/" + strings.Fields(string(kids))[0] + "/ns/pid")
		return true
	}, 5*time.Second, 5*time.Millisecond)
	// With the unique id, a newer PID namespace that gets the same inode
	// number (the kernel reuses them at once) does not keep this one alive.
	rec := owner.Record{Name: "x", PID: 1, StartTicks: 1, PIDNS: ino, PIDNSID: uid}
	assert.True(t, rec.OwnerAlive(), "pid 1 of a live PID namespace")
	// Kill the PID namespace's only process, so that unshare, its parent,
	// reaps it at once: killing unshare instead would leave a zombie for
	// this machine's PID 1 to reap, which keeps the PID namespace alive
	// for as long as PID 1 takes.
	require.NoError(t, syscall.Kill(child, syscall.SIGKILL))
	other.Wait()
	assert.Eventually(t, func() bool { return !rec.OwnerAlive() }, 5*time.Second, 10*time.Millisecond)
}
