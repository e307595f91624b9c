package nstest_test

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/fixture"
	"github.com/nsrun/nsrun/internal/capture"
	"github.com/nsrun/nsrun/internal/reexec"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/nsrun/nsrun/nstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// captureLine is what a kept capture logs.
var captureLine = regexp.MustCompile(`nstest: capture: (\S+) \((\d+) packets, (\d+) dropped\)`)

// runCaptureHelper runs the helper test called name with NSTEST_CAPTURE
// set to a new directory, and env; it returns the directory, the output and
// the exit code. Namespaces the helper names with NAMESPACE lines are
// removed at the end, should it leave them.
func runCaptureHelper(t *testing.T, name string, env []string, args ...string) (dir, out string, code int) {
	t.Helper()
	dir = t.TempDir()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^" + name + "$", "-test.v"}, args...)...)
	cmd.Env = append(os.Environ(), append([]string{helperEnv + "=1", "NSTEST_CAPTURE=" + dir}, env...)...)
	b, err := cmd.CombinedOutput()
	out = string(b)
	for _, line := range strings.Split(out, "\n") {
		if _, n, ok := strings.Cut(line, "NAMESPACE "); ok {
			t.Cleanup(func() { nsrun.DeleteNamed(strings.TrimSpace(n)) })
		}
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return dir, out, ee.ExitCode()
	}
	require.NoError(t, err, "%s", out)
	return dir, out, 0
}

// readCapture reads the capture file at path.
func readCapture(t *testing.T, path string) *capture.File {
	t.Helper()
	r, err := os.Open(path)
	require.NoError(t, err)
	defer r.Close()
	f, err := capture.Read(r)
	require.NoError(t, err)
	return f
}

// handshake opens a TCP connection from client to server:7 and closes it.
func handshake(t *testing.T, f *fixture.Fixture) {
	t.Helper()
	client, err := f.Namespace("client")
	require.NoError(t, err)
	server, err := f.Namespace("server")
	require.NoError(t, err)
	ip, err := f.IPv4("server")
	require.NoError(t, err)
	ln, err := server.Listen("tcp", net.JoinHostPort(ip.String(), "7"))
	require.NoError(t, err)
	defer ln.Close()
	c, err := client.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	s, err := ln.Accept()
	require.NoError(t, err)
	c.Close()
	s.Close()
}

// TestIntegrationCaptureKeptOnFailure: a failing test keeps its capture
// and logs its path; tcpdump and tshark read the TCP handshake in it, with
// the interfaces named after the topology's nodes.
func TestIntegrationCaptureKeptOnFailure(t *testing.T) {
	testenv.RequirePrivilege(t)
	// A panic fails the test too (the testing package runs cleanups then).
	_, out, code := runCaptureHelper(t, "TestHelperCapture", []string{"HELPER_FAIL=panic"})
	assert.NotEqual(t, 0, code, "%s", out)
	assert.Regexp(t, captureLine, out)

	dir, out, code := runCaptureHelper(t, "TestHelperCapture", []string{"HELPER_FAIL=1"})
	assert.NotEqual(t, 0, code, "%s", out)
	m := captureLine.FindStringSubmatch(out)
	require.NotNil(t, m, "the path is in the failure log: %s", out)
	path := m[1]
	assert.Equal(t, filepath.Join(dir, "TestHelperCapture.pcapng"), path)
	assert.Equal(t, "0", m[3], "none dropped")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "the file, and no temporary one")

	f := readCapture(t, path)
	assert.Contains(t, f.Interfaces, "client/eth0")
	assert.Contains(t, f.Interfaces, "server/eth0")
	assert.Equal(t, m[2], strconv.Itoa(len(f.Packets)))
	assert.Contains(t, f.Comments[0], "nsrun capture of test TestHelperCapture")
	for _, name := range []string{"tcpdump", "tshark"} {
		t.Run(name, func(t *testing.T) {
			p, err := exec.LookPath(name)
			if err != nil {
				if testenv.Strict() {
					t.Fatal(err)
				}
				t.Skip(err)
			}
			args := []string{"-n", "-r", path, "tcp port 7"}
			if name == "tshark" {
				args = []string{"-n", "-r", path, "-Y", "tcp.flags.syn == 1", "-T", "fields", "-e", "frame.interface_name", "-e", "tcp.flags.str"}
			}
			cmd := exec.Command(p, args...)
			if reexec.InRootless() {
				// tcpdump insists on dropping root, which a rootless run
				// cannot: run it as 65534 of a nested user namespace.
				cmd.SysProcAttr = &syscall.SysProcAttr{
					Cloneflags:  syscall.CLONE_NEWUSER,
					UidMappings: []syscall.SysProcIDMap{{ContainerID: 65534, HostID: os.Geteuid(), Size: 1}},
					GidMappings: []syscall.SysProcIDMap{{ContainerID: 65534, HostID: os.Getegid(), Size: 1}},
				}
			}
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			text := string(out)
			if name == "tcpdump" {
				assert.Equal(t, 2, strings.Count(text, "Flags [S],"), "SYN, leaving client and entering server: %s", text)
				assert.Equal(t, 2, strings.Count(text, "Flags [S.],"), "SYN-ACK: %s", text)
			} else {
				for _, want := range []string{"client/eth0\t··········S·", "server/eth0\t··········S·", "server/eth0\t·······A··S·", "client/eth0\t·······A··S·"} {
					assert.Contains(t, text, want)
				}
			}
		})
	}
}

// TestIntegrationCapturePassingLeavesNothing: a passing test's capture is
// not written, unless NSTEST_CAPTURE_KEEP=1.
func TestIntegrationCapturePassingLeavesNothing(t *testing.T) {
	testenv.RequirePrivilege(t)
	dir, out, code := runCaptureHelper(t, "TestHelperCapture", nil)
	require.Equal(t, 0, code, "%s", out)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries)
	assert.NotContains(t, out, "nstest: capture:")

	dir, out, code = runCaptureHelper(t, "TestHelperCapture", []string{"NSTEST_CAPTURE_KEEP=1"})
	require.Equal(t, 0, code, "%s", out)
	m := captureLine.FindStringSubmatch(out)
	require.NotNil(t, m, "%s", out)
	assert.FileExists(t, filepath.Join(dir, "TestHelperCapture.pcapng"))
}

func TestHelperCapture(t *testing.T) {
	helperOnly(t)
	nstest.Capture(t)
	f := nstest.Topology(t, fixture.Pair("client", "server"))
	handshake(t, f)
	switch os.Getenv("HELPER_FAIL") {
	case "1":
		t.Fatal("on purpose")
	case "panic":
		panic("on purpose")
	}
}

// TestIntegrationCaptureEverything: with NSTEST_CAPTURE set a test that
// never calls Capture is captured too; namespaces made before Capture and
// in subtests are in it, under their namespace names.
func TestIntegrationCaptureEverything(t *testing.T) {
	testenv.RequirePrivilege(t)
	dir, out, code := runCaptureHelper(t, "TestHelperCaptureEverything", nil)
	assert.NotEqual(t, 0, code, "%s", out)
	m := captureLine.FindStringSubmatch(out)
	require.NotNil(t, m, "%s", out)
	assert.Equal(t, filepath.Join(dir, "TestHelperCaptureEverything.pcapng"), m[1])
	var names []string
	for _, line := range strings.Split(out, "\n") {
		if _, n, ok := strings.Cut(line, "NAMESPACE "); ok {
			names = append(names, strings.TrimSpace(n))
		}
	}
	require.Len(t, names, 2)
	f := readCapture(t, m[1])
	for _, n := range names {
		assert.Contains(t, f.Interfaces, n+"/lo")
	}
}

func TestHelperCaptureEverything(t *testing.T) {
	helperOnly(t)
	ping := func(ns *nsrun.Namespace) {
		c, err := ns.Dial("udp", "127.0.0.1:9")
		require.NoError(t, err)
		c.Write([]byte("x"))
		c.Close()
	}
	a := nstest.New(t) // NSTEST_CAPTURE starts the capture here
	t.Log("NAMESPACE", a.Name())
	ping(a)
	t.Run("sub", func(t *testing.T) {
		b := nstest.New(t) // in the parent's capture
		t.Log("NAMESPACE", b.Name())
		ping(b)
		time.Sleep(50 * time.Millisecond)
	})
	time.Sleep(50 * time.Millisecond)
	t.Fatal("on purpose")
}

// TestIntegrationCaptureBeforeTimeout: a test that runs into go test's
// -timeout, which ends the binary without cleanups, still leaves its
// capture, written just before.
func TestIntegrationCaptureBeforeTimeout(t *testing.T) {
	testenv.RequirePrivilege(t)
	dir, out, code := runCaptureHelper(t, "TestHelperCaptureHangs", nil, "-test.timeout=3s")
	assert.NotEqual(t, 0, code, "%s", out)
	assert.Contains(t, out, "panic: test timed out")
	m := captureLine.FindStringSubmatch(out)
	require.NotNil(t, m, "%s", out)
	assert.Contains(t, out, "TestHelperCaptureHangs is about to time out")
	assert.Equal(t, filepath.Join(dir, "TestHelperCaptureHangs.pcapng"), m[1])
	f := readCapture(t, m[1])
	assert.NotEmpty(t, f.Packets)
}

func TestHelperCaptureHangs(t *testing.T) {
	helperOnly(t)
	nstest.Capture(t)
	a := nstest.New(t)
	t.Log("NAMESPACE", a.Name())
	c, err := a.Dial("udp", "127.0.0.1:9")
	require.NoError(t, err)
	for {
		c.Write([]byte("x"))
		time.Sleep(10 * time.Millisecond)
	}
}

// TestIntegrationCaptureOffSpendsNothing: without Capture and
// NSTEST_CAPTURE, New and Topology start no goroutine and open no socket
// for capture (the topology's own netlink sockets aside), while Capture
// opens a packet socket per namespace.
func TestIntegrationCaptureOffSpendsNothing(t *testing.T) {
	testenv.RequirePrivilege(t)
	t.Setenv("NSTEST_CAPTURE", "")
	nstest.New(t) // the first New of a process sweeps leftovers once
	g0, s0 := settleGoroutines(-1), sockets(t)
	nstest.New(t)
	assert.Equal(t, s0, sockets(t), "no socket")
	nstest.Topology(t, fixture.Pair("client", "server"))
	assert.Equal(t, g0, settleGoroutines(g0), "no goroutine")
	assert.Equal(t, 0, packetSockets(t), "no packet socket")

	nstest.Capture(t) // now every namespace of the test is captured
	assert.Equal(t, 4, packetSockets(t))
}

// sockets counts this process's open sockets.
func sockets(t testing.TB) int {
	n := 0
	eachSocket(t, func(int) { n++ })
	return n
}

// packetSockets counts this process's open AF_PACKET sockets.
func packetSockets(t testing.TB) int {
	n := 0
	eachSocket(t, func(fd int) {
		if d, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); err == nil && d == unix.AF_PACKET {
			n++
		}
	})
	return n
}

// eachSocket calls fn with each socket fd of this process.
func eachSocket(t testing.TB, fn func(fd int)) {
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	for _, e := range fds {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			fd, _ := strconv.Atoi(e.Name())
			fn(fd)
		}
	}
}

// settleGoroutines waits (at most two seconds) for the number of
// goroutines to be want (-1: to stop changing) and returns it.
func settleGoroutines(want int) int {
	last := runtime.NumGoroutine()
	if last == want {
		return last
	}
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		n := runtime.NumGoroutine()
		if n == want || want < 0 && n == last {
			return n
		}
		last = n
	}
	return last
}

// BenchmarkIntegrationNewCaptureOff shows what capture costs when off (no
// Capture, no NSTEST_CAPTURE): the goroutines and sockets each New leaves
// running (0 and 0), and the time of New and Delete against the core's own
// nsrun.New and Delete, interleaved (nstest/core, about 1).
func BenchmarkIntegrationNewCaptureOff(b *testing.B) {
	testenv.RequirePrivilege(b)
	if os.Getenv("NSTEST_CAPTURE") != "" {
		b.Skip("NSTEST_CAPTURE is set")
	}
	nstest.New(b).Delete() // the once-per-process sweep
	var goroutines, socks int
	var core, helper time.Duration
	for b.Loop() {
		start := time.Now()
		n, err := nsrun.New(nsrun.WithPrefix("nst-bench-"))
		if err != nil {
			b.Fatal(err)
		}
		if err := n.Delete(); err != nil {
			b.Fatal(err)
		}
		core += time.Since(start)

		g0, s0 := runtime.NumGoroutine(), sockets(b)
		start = time.Now()
		n = nstest.New(b)
		helper += time.Since(start)
		goroutines += settleGoroutines(g0) - g0
		socks += sockets(b) - s0
		start = time.Now()
		if err := n.Delete(); err != nil {
			b.Fatal(err)
		}
		helper += time.Since(start)
	}
	b.ReportMetric(float64(goroutines)/float64(b.N), "goroutines/op")
	b.ReportMetric(float64(socks)/float64(b.N), "sockets/op")
	b.ReportMetric(float64(core.Microseconds())/float64(b.N), "core-µs/op")
	b.ReportMetric(float64(helper.Microseconds())/float64(b.N), "nstest-µs/op")
	b.ReportMetric(float64(helper)/float64(core), "nstest/core")
}
