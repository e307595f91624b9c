package nsrun_test

import (
	"bufio"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/nsthread"
	"github.com/nsrun/nsrun/internal/paths"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// exited waits up to 5s for the process behind pidfd to end.
func exited(t *testing.T, pidfd int) bool {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 5000)
	return err == nil && n == 1
}

// pidfdOf opens a pidfd of pid, closed with the test.
func pidfdOf(t *testing.T, pid int) int {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	require.NoError(t, err)
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// startDetached starts a command in its own session and reaps it in the
// background, so that it outlives nothing of the test's.
func startDetached(t *testing.T, name string, arg ...string) int {
	t.Helper()
	cmd := exec.Command(name, arg...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	require.NoError(t, cmd.Start())
	go cmd.Wait()
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd.Process.Pid
}

// startViaPidfd starts a process inside the network namespace of pid by
// setns on a pidfd of pid, which opens no namespace file: the way in that no
// watch sees.
func startViaPidfd(t *testing.T, pid int, name string, arg ...string) int {
	t.Helper()
	pidfd := pidfdOf(t, pid)
	hostFd, _, err := nsthread.Host()
	require.NoError(t, err)
	cmd := exec.Command(name, arg...)
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Setns(pidfd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		err := cmd.Start()
		if unix.Setns(hostFd, unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread() // else the thread dies with the goroutine
		}
		errc <- err
	}()
	require.NoError(t, <-errc)
	go cmd.Wait()
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd.Process.Pid
}

// TestIntegrationDeleteKillsEveryWayIn: whatever way a process got into a
// namespace, Delete kills it, and its descendants, before the namespace
// goes: a foreign process by `ip netns exec` or nsenter (by name, or by
// /proc/PID/ns/net of a process inside), one that entered by a pidfd of a
// process inside, a daemon of a Command, a process started inside Do.
func TestIntegrationDeleteKillsEveryWayIn(t *testing.T) {
	testenv.RequirePrivilege(t)
	sleep := []string{"sleep", "60"}
	cases := map[string]func(t *testing.T, n *nsrun.Namespace) []int{
		"ip netns exec": func(t *testing.T, n *nsrun.Namespace) []int {
			if nsrun.Dir() != "/run/netns" {
				t.Skipf("ip netns only knows /run/netns, not %s", nsrun.Dir())
			}
			return []int{startDetached(t, "ip", append([]string{"netns", "exec", n.Name()}, sleep...)...)}
		},
		"nsenter --net=NAME": func(t *testing.T, n *nsrun.Namespace) []int {
			return []int{startDetached(t, "nsenter", append([]string{"--net=" + n.Path()}, sleep...)...)}
		},
		"nsenter --net=/proc/PID/ns/net": func(t *testing.T, n *nsrun.Namespace) []int {
			first := startDetached(t, "nsenter", append([]string{"--net=" + n.Path()}, sleep...)...)
			waitPids(t, n, 1)
			return []int{first, startDetached(t, "nsenter", append([]string{"--net=/proc/" + strconv.Itoa(first) + "/ns/net"}, sleep...)...)}
		},
		"setns(pidfd) of a process inside": func(t *testing.T, n *nsrun.Namespace) []int {
			first := startDetached(t, "nsenter", append([]string{"--net=" + n.Path()}, sleep...)...)
			waitPids(t, n, 1)
			return []int{first, startViaPidfd(t, first, sleep[0], sleep[1:]...)}
		},
		"a daemon of a Command": func(t *testing.T, n *nsrun.Namespace) []int {
			out, err := n.Command("sh", "-c", "setsid sleep 60 >/dev/null 2>&1 </dev/null & echo $!").Output()
			require.NoError(t, err)
			pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
			require.NoError(t, err)
			return []int{pid}
		},
		"a process started inside Do": func(t *testing.T, n *nsrun.Namespace) []int {
			cmd := exec.Command(sleep[0], sleep[1:]...)
			require.NoError(t, n.Do(cmd.Start))
			go cmd.Wait()
			t.Cleanup(func() { cmd.Process.Kill() })
			return []int{cmd.Process.Pid}
		},
	}
	for name, start := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			n := newNS(t, nsrun.WithKillGrace(0))
			pids := start(t, n)
			waitPids(t, n, len(pids))
			var pidfds []int
			for _, pid := range pids {
				pidfds = append(pidfds, pidfdOf(t, pid))
			}
			require.NoError(t, n.Delete())
			requireGone(t, n.Name())
			assert.True(t, nsrun.Scanned(n), "Delete must look for the processes inside")
			for i, fd := range pidfds {
				assert.True(t, exited(t, fd), "process %d left alive", pids[i])
			}
		})
	}
}

// TestIntegrationDeleteScansOnlyWhenSomethingMayBeInside: Delete reads
// /proc (a cost that grows with the host's processes) only for a namespace
// that somebody opened since New, or that was handed to code that can
// start processes in it without opening it. It runs in a child with a
// namespace directory of its own, which nobody else's `ip netns list` opens.
func TestIntegrationDeleteScansOnlyWhenSomethingMayBeInside(t *testing.T) {
	testenv.RequirePrivilege(t)
	if os.Getenv(paths.NetnsEnv) == "" {
		dir, err := os.MkdirTemp("", "nsrun-scan")
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
	peer := newNS(t)
	cases := []struct {
		name string
		use  func(t *testing.T, n *nsrun.Namespace)
		scan bool
	}{
		{"nothing", func(*testing.T, *nsrun.Namespace) {}, false},
		{"sockets, netlink, nsids, pids", func(t *testing.T, n *nsrun.Namespace) {
			ln, err := n.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			c, err := n.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			c.Close()
			pc, err := n.ListenPacket("udp", "127.0.0.1:0")
			require.NoError(t, err)
			pc.Close()
			h, err := n.Netlink()
			require.NoError(t, err)
			_, err = h.LinkList()
			require.NoError(t, err)
			require.NoError(t, nsrun.WireNSIDs(n, peer))
			pids, err := n.Pids()
			require.NoError(t, err)
			assert.Empty(t, pids)
		}, false},
		{"a socket's SIOCGSKNS", func(t *testing.T, n *nsrun.Namespace) {
			ln, err := n.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer ln.Close()
			raw, err := ln.(*net.TCPListener).SyscallConn()
			require.NoError(t, err)
			var nsfd int
			require.NoError(t, raw.Control(func(fd uintptr) { nsfd, err = unix.IoctlRetInt(int(fd), unix.SIOCGSKNS) }))
			require.NoError(t, err)
			unix.Close(nsfd)
		}, true},
		{"nsenter --net=NAME", func(t *testing.T, n *nsrun.Namespace) {
			out, err := exec.Command("nsenter", "--net="+n.Path(), "true").CombinedOutput()
			require.NoError(t, err, "%s", out)
		}, true},
		{"Fd", func(t *testing.T, n *nsrun.Namespace) { n.Fd() }, true},
		{"Do", func(t *testing.T, n *nsrun.Namespace) { require.NoError(t, n.Do(func() error { return nil })) }, true},
		{"Go", func(t *testing.T, n *nsrun.Namespace) { require.NoError(t, <-n.Go(func() error { return nil })) }, true},
		{"Command", func(t *testing.T, n *nsrun.Namespace) { require.NoError(t, n.Command("true").Run()) }, true},
		{"Close", func(t *testing.T, n *nsrun.Namespace) { require.NoError(t, n.Close()) }, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := newNS(t)
			c.use(t, n)
			require.NoError(t, n.Delete())
			requireGoneHere(t, n.Name())
			assert.Equal(t, c.scan, nsrun.Scanned(n))
		})
	}
	t.Run("group", func(t *testing.T) {
		a, b := newNS(t), newNS(t)
		b.Fd()
		require.NoError(t, nsrun.DeleteGroup(a, b))
		assert.False(t, nsrun.Scanned(a))
		assert.True(t, nsrun.Scanned(b))
	})
}

// requireGoneHere is requireGone without ip (which knows only /run/netns).
func requireGoneHere(t *testing.T, name string) {
	t.Helper()
	_, err := os.Stat(filepath.Join(nsrun.Dir(), name))
	require.True(t, errors.Is(err, os.ErrNotExist), "file %s still there: %v", name, err)
	f, err := os.Open("/proc/self/mountinfo")
	require.NoError(t, err)
	defer f.Close()
	for s := bufio.NewScanner(f); s.Scan(); {
		require.NotContains(t, s.Text(), " "+filepath.Join(nsrun.Dir(), name)+" ")
	}
	_, err = os.Stat(filepath.Join(paths.Records(), name+".json"))
	require.True(t, errors.Is(err, os.ErrNotExist), "owner record of %s still there: %v", name, err)
}
