package reexec_test

import (
	"bytes"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsrun/nsrun/internal/paths"
	"github.com/nsrun/nsrun/internal/reexec"
	"github.com/nsrun/nsrun/internal/syncbuf"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// helperEnv selects what TestRootlessHelper does in a rootless run.
const helperEnv = "REEXEC_ROOTLESS_HELPER"

// requireUserns skips the test when user namespaces are blocked here (fails
// it under NSTEST_STRICT=1), with the detector's line.
func requireUserns(t *testing.T) {
	t.Helper()
	if err := reexec.Detect(); err != nil {
		if testenv.Strict() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// rootless runs this test binary again as the root of a rootless run,
// running TestRootlessHelper in the given mode; stdout and the exit code.
func rootless(t *testing.T, mode string, env ...string) (string, int) {
	t.Helper()
	t.Setenv(helperEnv, mode)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	var out, errb bytes.Buffer
	code, err := reexec.RunRootless([]string{os.Args[0], "-test.run=^TestRootlessHelper$", "-test.v"}, nil, &out, &errb, false)
	require.NoError(t, err)
	return out.String() + errb.String(), code
}

func TestDetectFindsUserNamespacesWork(t *testing.T) {
	err := reexec.Detect()
	if err != nil && !testenv.Strict() {
		t.Skipf("user namespaces are blocked on this machine: %v", err)
	}
	require.NoError(t, err, "this machine allows unprivileged user namespaces")
}

func TestRunRootlessMakesStatePrivate(t *testing.T) {
	requireUserns(t)
	ns, err := os.Readlink("/proc/self/ns/net")
	require.NoError(t, err)
	for _, tc := range []struct {
		name      string
		netnsDir  string // under the parent
		hostNetns bool   // the netns directory exists on the host, with a name in it
	}{
		// What a rootless run finds in /run when /run/netns is missing
		// (and so /run/nsrun): both are made under a tmpfs on the parent.
		{name: "both missing", netnsDir: "missing/netns"},
		// /run/netns is there (ip netns add made it) but /run/nsrun is not:
		// a tmpfs on the parent, and another on the netns directory.
		{name: "records missing", netnsDir: "netns", hostNetns: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A parent with an entry of each kind.
			parent := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(parent, "file"), []byte("x"), 0o644))
			require.NoError(t, os.Symlink("file", filepath.Join(parent, "link")))
			require.NoError(t, os.MkdirAll(filepath.Join(parent, "dir", "sub"), 0o755))
			netnsDir := filepath.Join(parent, tc.netnsDir)
			if tc.hostNetns {
				require.NoError(t, os.MkdirAll(netnsDir, 0o755))
				require.NoError(t, os.WriteFile(filepath.Join(netnsDir, "host-ns"), nil, 0o644))
			}
			out, code := rootless(t, "check", paths.NetnsEnv+"="+netnsDir, "REEXEC_BASE="+parent,
				"REEXEC_PARENT="+fmt.Sprintf("%d:%d:%s", os.Geteuid(), os.Getegid(), ns))
			require.Equal(t, 0, code, out)
			assert.Contains(t, out, "--- PASS: TestRootlessHelper", out)
			entries, err := os.ReadDir(parent)
			require.NoError(t, err)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			want := []string{"dir", "file", "link"}
			if tc.hostNetns {
				want = append(want, "netns")
				_, err := os.Stat(filepath.Join(netnsDir, "host-ns"))
				assert.NoError(t, err, "the host's names stay the host's")
			}
			assert.Equal(t, want, names, "nothing is written on the host")
		})
	}
}

func TestRunRootlessPassesExitStatus(t *testing.T) {
	requireUserns(t)
	out, code := rootless(t, "exit7")
	assert.Equal(t, 7, code, out)
	out, code = rootless(t, "sigterm")
	assert.Equal(t, 128+int(syscall.SIGTERM), code, out)
}

func TestRunRootlessForwardsSignals(t *testing.T) {
	requireUserns(t)
	t.Setenv(helperEnv, "wait")
	var out syncbuf.Buffer
	done := make(chan int, 1)
	go func() {
		code, err := reexec.RunRootless([]string{os.Args[0], "-test.run=^TestRootlessHelper$"}, nil, &out, &out, false)
		assert.NoError(t, err)
		done <- code
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "waiting") {
		require.True(t, time.Now().Before(deadline), "the run never got ready: %s", out.String())
		time.Sleep(5 * time.Millisecond)
	}
	// RunRootless catches SIGTERM while the run lasts, and passes it on.
	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	select {
	case code := <-done:
		assert.Equal(t, 42, code, "the run got SIGTERM: %s", out.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("the run did not end: %s", out.String())
	}
}

// TestRootlessHelper runs inside a rootless run started by the tests above.
func TestRootlessHelper(t *testing.T) {
	mode := os.Getenv(helperEnv)
	if mode == "" {
		t.Skip("runs in a rootless run started by the other tests")
	}
	require.True(t, reexec.RootlessRoot(), "set up as the root of a rootless run")
	switch mode {
	case "exit7":
		os.Exit(7)
	case "sigterm":
		signal.Reset(syscall.SIGTERM)
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
		time.Sleep(10 * time.Second)
	case "wait":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		fmt.Println("waiting")
		select {
		case <-c:
			os.Exit(42)
		case <-time.After(20 * time.Second):
			os.Exit(3)
		}
	}
	assert.True(t, reexec.Privileged(), "every capability in its user namespace")
	assert.True(t, reexec.InRootless())
	assert.Equal(t, "1", os.Getenv(reexec.RootlessEnv), "the run's processes inherit the mark")
	want := strings.SplitN(os.Getenv("REEXEC_PARENT"), ":", 3)
	require.Len(t, want, 3)
	uid, gid, ok := reexec.OuterIDs()
	require.True(t, ok)
	assert.Equal(t, want[0], strconv.Itoa(int(uid)))
	assert.Equal(t, want[1], strconv.Itoa(int(gid)))
	assert.Equal(t, 0, os.Getuid())
	ns, err := os.Readlink("/proc/self/ns/net")
	require.NoError(t, err)
	assert.NotEqual(t, want[2], ns, "a network namespace of its own")
	links, err := os.ReadDir("/sys/class/net")
	require.NoError(t, err)
	require.Len(t, links, 1, "/sys shows the run's network namespace")
	assert.Equal(t, "lo", links[0].Name())

	// The private directories: there, empty, writable; made under a tmpfs
	// on their parent when missing, with the parent's entries bound back.
	for _, d := range []string{paths.Netns(), paths.Records(), paths.Etc} {
		entries, err := os.ReadDir(d)
		require.NoError(t, err, d)
		assert.Empty(t, entries, d)
		require.NoError(t, os.WriteFile(filepath.Join(d, "probe"), nil, 0o644), d)
	}
	parent := os.Getenv("REEXEC_BASE")
	b, err := os.ReadFile(filepath.Join(parent, "file"))
	require.NoError(t, err)
	assert.Equal(t, "x", string(b))
	target, err := os.Readlink(filepath.Join(parent, "link"))
	require.NoError(t, err)
	assert.Equal(t, "file", target)
	_, err = os.Stat(filepath.Join(parent, "dir", "sub"))
	assert.NoError(t, err)
}
