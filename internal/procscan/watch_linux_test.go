package procscan_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/nsrun/nsrun/internal/nsthread"
	"github.com/nsrun/nsrun/internal/procscan"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// watched makes a namespace bound on a temporary file, watched from before
// the bind mount as New does, with one process inside that got there
// without opening it (forked by a thread inside). It returns the file, an
// fd of the namespace, the process, and the watch's Opened (callable once).
func watched(t *testing.T) (path string, fd, pid int, opened func() bool) {
	t.Helper()
	testenv.RequirePrivilege(t)
	path = filepath.Join(t.TempDir(), "ns")
	require.NoError(t, os.WriteFile(path, nil, 0))
	var w procscan.Watch
	fd, _, err := nsthread.Create(nsthread.Spec{Path: path, Watch: func(fd int) { w = procscan.StartWatch(fd) }})
	require.NoError(t, err)
	require.NotEqual(t, procscan.Watch{}, w, "the namespace must be watched")
	opened = sync.OnceValue(w.Opened)
	// Runs before t.TempDir's removal: cleanups run last first.
	t.Cleanup(func() { opened(); unix.Unmount(path, unix.MNT_DETACH); unix.Close(fd) })

	cmd := exec.Command("sleep", "60")
	require.NoError(t, nsthread.Do(fd, cmd.Start))
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return path, fd, cmd.Process.Pid, opened
}

// TestIntegrationWatchSeesEveryOpen checks, on this kernel, the claim
// procscan.Watch rests on: every way of opening a namespace reports an
// open to a watch on its nsfs inode, and nothing else does.
func TestIntegrationWatchSeesEveryOpen(t *testing.T) {
	nsenter := func(args ...string) func(t *testing.T, path string, fd, pid int) {
		return func(t *testing.T, path string, fd, pid int) {
			out, err := exec.Command("nsenter", append(args, "true")...).CombinedOutput()
			require.NoError(t, err, "%s", out)
		}
	}
	open := func(p func(path string, fd, pid int) string) func(t *testing.T, path string, fd, pid int) {
		return func(t *testing.T, path string, fd, pid int) {
			f, err := unix.Open(p(path, fd, pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
			require.NoError(t, err)
			unix.Close(f)
		}
	}
	proc := func(pid int) string { return "/proc/" + strconv.Itoa(pid) }
	cases := []struct {
		name   string
		do     func(t *testing.T, path string, fd, pid int)
		opened bool
	}{
		{"nothing", func(*testing.T, string, int, int) {}, false},
		{"stat, readlink", func(t *testing.T, path string, fd, pid int) {
			var st unix.Stat_t
			require.NoError(t, unix.Stat(path, &st))
			require.NoError(t, unix.Stat(proc(pid)+"/ns/net", &st))
			_, err := os.Readlink(proc(pid) + "/ns/net")
			require.NoError(t, err)
		}, false},
		// A process can enter by a pidfd of a process inside without any
		// open: the one way in that the watch does not see, and that needs
		// somebody inside already.
		{"setns(pidfd)", func(t *testing.T, path string, fd, pid int) {
			pidfd, err := unix.PidfdOpen(pid, 0)
			require.NoError(t, err)
			defer unix.Close(pidfd)
			require.NoError(t, nsthread.Do(pidfd, func() error { return nil }))
		}, false},
		{"open the name", open(func(path string, _, _ int) string { return path }), true},
		{"nsenter --net=NAME", func(t *testing.T, path string, fd, pid int) { nsenter("--net="+path)(t, path, fd, pid) }, true},
		{"nsenter --net=/proc/PID/ns/net", func(t *testing.T, path string, fd, pid int) {
			nsenter("--net="+proc(pid)+"/ns/net")(t, path, fd, pid)
		}, true},
		{"nsenter -t PID -n", func(t *testing.T, path string, fd, pid int) { nsenter("-t", strconv.Itoa(pid), "-n")(t, path, fd, pid) }, true},
		{"/proc/PID/task/TID/ns/net", open(func(_ string, _, pid int) string {
			return proc(pid) + "/task/" + strconv.Itoa(pid) + "/ns/net"
		}), true},
		{"/proc/self/fd/N", open(func(_ string, fd, _ int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }), true},
		{"SIOCGSKNS", func(t *testing.T, path string, fd, pid int) {
			var s int
			require.NoError(t, nsthread.Do(fd, func() (err error) { s, err = unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0); return }))
			defer unix.Close(s)
			nsfd, err := unix.IoctlRetInt(s, unix.SIOCGSKNS)
			require.NoError(t, err)
			unix.Close(nsfd)
		}, true},
		{"PIDFD_GET_NET_NAMESPACE", func(t *testing.T, path string, fd, pid int) {
			pidfd, err := unix.PidfdOpen(pid, 0)
			require.NoError(t, err)
			defer unix.Close(pidfd)
			const pidfdGetNetNamespace = 0xff<<8 | 4 // _IO(PIDFS_IOCTL_MAGIC, 4), Linux 6.11
			nsfd, err := unix.IoctlRetInt(pidfd, pidfdGetNetNamespace)
			if err != nil {
				t.Skipf("kernel without PIDFD_GET_NET_NAMESPACE: %v", err)
			}
			unix.Close(nsfd)
		}, true},
		{"open_by_handle_at", func(t *testing.T, path string, fd, pid int) {
			h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, path, 0)
			if err != nil {
				t.Skipf("kernel without nsfs file handles: %v", err)
			}
			nsfd, err := unix.OpenByHandleAt(fd, h, unix.O_RDONLY|unix.O_CLOEXEC)
			require.NoError(t, err)
			unix.Close(nsfd)
		}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, fd, pid, opened := watched(t)
			c.do(t, path, fd, pid)
			assert.Equal(t, c.opened, opened())
		})
	}
}

// TestIntegrationWatchSeesAnOpenRacingTheName: whoever opens the name the
// moment it exists is seen, because the watch starts before the bind mount.
func TestIntegrationWatchSeesAnOpenRacingTheName(t *testing.T) {
	testenv.RequirePrivilege(t)
	for range 20 {
		path := filepath.Join(t.TempDir(), "ns")
		require.NoError(t, os.WriteFile(path, nil, 0))
		got := make(chan int, 1)
		stop := make(chan struct{})
		go func() {
			for {
				select {
				case <-stop:
					got <- -1
					return
				default:
				}
				f, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
				if err != nil {
					continue
				}
				var st unix.Statfs_t
				if unix.Fstatfs(f, &st) == nil && st.Type == unix.NSFS_MAGIC {
					got <- f // a namespace fd, good for setns
					return
				}
				unix.Close(f)
			}
		}()
		var w procscan.Watch
		fd, _, err := nsthread.Create(nsthread.Spec{Path: path, Watch: func(fd int) { w = procscan.StartWatch(fd) }})
		require.NoError(t, err)
		f := <-got
		close(stop)
		assert.True(t, w.Opened(), "an open of the name went unseen")
		unix.Close(f)
		unix.Close(fd)
		require.NoError(t, unix.Unmount(path, unix.MNT_DETACH))
	}
}

// TestIntegrationInFindsTheSameInParallel: In finds exactly the processes
// inside, in one goroutine or split over several (the share lowered so
// that a quiet host has enough processes for that), among the host's and
// with the other processes of this test outside.
func TestIntegrationInFindsTheSameInParallel(t *testing.T) {
	_, fd, pid, _ := watched(t)
	id, err := nsthread.Fstat(fd)
	require.NoError(t, err)
	var inside []int
	inside = append(inside, pid)
	for range 5 {
		cmd := exec.Command("sleep", "60")
		require.NoError(t, nsthread.Do(fd, cmd.Start))
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		inside = append(inside, cmd.Process.Pid)
		out := exec.Command("sleep", "60") // outside, beside them
		require.NoError(t, out.Start())
		t.Cleanup(func() { out.Process.Kill(); out.Wait() })
	}
	slices.Sort(inside)
	one, err := procscan.In(procscan.Set{id: true})
	require.NoError(t, err)
	assert.Equal(t, inside, one, "one goroutine")
	defer procscan.SetScanShare(1)()
	many, err := procscan.In(procscan.Set{id: true})
	require.NoError(t, err)
	assert.Equal(t, inside, many, "a goroutine per CPU")
}
