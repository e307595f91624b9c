package capture_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/fixture"
	"github.com/nsrun/nsrun/internal/capture"
	"github.com/nsrun/nsrun/internal/leakcheck"
	"github.com/nsrun/nsrun/internal/reexec"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/nsrun/nsrun/internal/testuser"
	"github.com/nsrun/nsrun/nstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) { nstest.Main(leakcheck.Wrap(m)) }

// requireTool returns the path of a tool the test reads captures with; a
// missing one skips the test, or fails it under NSTEST_STRICT=1 (CI
// installs them: .ci/setup).
func requireTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		msg := name + " is not installed (.ci/setup installs it): " + err.Error()
		if testenv.Strict() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// tool returns the command that runs a capture reader. In a rootless run,
// where this process is root of a user namespace that maps only it,
// tcpdump cannot drop root as it insists on: there the tool runs as uid
// 65534 of a user namespace nested in the run's.
func tool(t *testing.T, name string, arg ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(requireTool(t, name), arg...)
	if reexec.InRootless() {
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 65534, HostID: os.Geteuid(), Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 65534, HostID: os.Getegid(), Size: 1}},
		}
	}
	return cmd
}

// pair builds two nodes, client and server, linked by a veth pair, and
// returns them with the server's address.
func pair(t testing.TB) (client, server *nsrun.Namespace, addr string) {
	t.Helper()
	f := nstest.Topology(t, fixture.Pair("client", "server"))
	client, err := f.Namespace("client")
	require.NoError(t, err)
	server, err = f.Namespace("server")
	require.NoError(t, err)
	ip, err := f.IPv4("server")
	require.NoError(t, err)
	return client, server, ip.String()
}

// start makes a capture of the namespaces, stopped at the end of the test
// (before the namespaces go: cleanups run last first).
func start(t testing.TB, cfg capture.Config, nss map[string]*nsrun.Namespace) *capture.Capture {
	t.Helper()
	c, err := capture.New(cfg)
	require.NoError(t, err)
	t.Cleanup(c.Stop)
	for label, ns := range nss {
		require.NoError(t, c.Add(label, ns.Do))
	}
	return c
}

// handshake connects client to a listener on the server, port 4242, and
// sends "hello".
func handshake(t *testing.T, client, server *nsrun.Namespace, addr string) {
	t.Helper()
	ln, err := server.Listen("tcp", net.JoinHostPort(addr, "4242"))
	require.NoError(t, err)
	defer ln.Close()
	conn, err := client.Dial("tcp", net.JoinHostPort(addr, "4242"))
	require.NoError(t, err)
	s, err := ln.Accept()
	require.NoError(t, err)
	_, err = conn.Write([]byte("hello"))
	require.NoError(t, err)
	buf := make([]byte, 5)
	_, err = s.Read(buf)
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	require.NoError(t, s.Close())
}

func writeFile(t *testing.T, c *capture.Capture) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.pcapng")
	require.NoError(t, c.WriteFile(path))
	return path
}

func TestIntegrationHandshakeReadByTcpdumpAndTshark(t *testing.T) {
	testenv.RequirePrivilege(t)
	client, server, addr := pair(t)
	c := start(t, capture.Config{Comment: t.Name()}, map[string]*nsrun.Namespace{"client": client, "server": server})
	handshake(t, client, server, addr)
	c.Stop()
	path := writeFile(t, c)

	t.Run("tcpdump", func(t *testing.T) {
		out, err := tool(t, "tcpdump", "-n", "-r", path, "tcp port 4242").CombinedOutput()
		require.NoError(t, err, "%s", out)
		text := string(out)
		t.Logf("%s", text)
		// Each packet is seen leaving one node and entering the other.
		assert.Equal(t, 2, strings.Count(text, "Flags [S],"), "SYN")
		assert.Equal(t, 2, strings.Count(text, "Flags [S.],"), "SYN-ACK")
		assert.Contains(t, text, "Flags [P.]")
	})
	t.Run("tshark", func(t *testing.T) {
		out, err := tool(t, "tshark", "-n", "-r", path, "-Y", "tcp.port == 4242",
			"-T", "fields", "-e", "frame.interface_name", "-e", "tcp.flags.str").CombinedOutput()
		require.NoError(t, err, "%s", out)
		text := string(out)
		t.Logf("%s", text)
		assert.Contains(t, text, "client/eth0\t")
		assert.Contains(t, text, "server/eth0\t")
	})
}

func TestIntegrationInterfaceMadeLater(t *testing.T) {
	testenv.RequirePrivilege(t)
	a, b := nstest.New(t), nstest.New(t)
	c := start(t, capture.Config{}, map[string]*nsrun.Namespace{"a": a, "b": b})
	// A veth pair made after the capture started, with an address on a's
	// end: a datagram to a neighbour there makes a send an ARP request,
	// which b's end receives.
	ha, err := a.Netlink()
	require.NoError(t, err)
	hb, err := b.Netlink()
	require.NoError(t, err)
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "late0"}, PeerName: "late1", PeerNamespace: netlink.NsFd(b.Fd())}
	require.NoError(t, ha.LinkAdd(veth))
	peer, err := hb.LinkByName("late1")
	require.NoError(t, err)
	require.NoError(t, hb.LinkSetUp(peer))
	require.NoError(t, ha.LinkSetUp(veth))
	addr, err := netlink.ParseAddr("10.9.9.1/24")
	require.NoError(t, err)
	require.NoError(t, ha.AddrAdd(veth, addr))
	conn, err := a.Dial("udp", "10.9.9.2:9")
	require.NoError(t, err)
	defer conn.Close()
	f := readBack(t, c, func(f *capture.File) bool {
		conn.Write([]byte("x"))
		return slices.Contains(f.Interfaces, "b/late1")
	})
	assert.Contains(t, f.Interfaces, "a/late0")
	assert.Contains(t, f.Interfaces, "b/late1")
}

// readBack writes what c holds and reads it back, until done says that
// it holds what the test waits for (at most ten seconds: the kernel hands
// packets over in blocks, a few milliseconds after they pass).
func readBack(t *testing.T, c *capture.Capture, done func(*capture.File) bool) *capture.File {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var buf bytes.Buffer
		_, err := c.WriteTo(&buf)
		require.NoError(t, err)
		f, err := capture.Read(&buf)
		require.NoError(t, err)
		if done(f) || time.Now().After(deadline) {
			return f
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestIntegrationInterfaceWithoutEthernetHeader(t *testing.T) {
	testenv.RequirePrivilege(t)
	a := nstest.New(t)
	c := start(t, capture.Config{}, map[string]*nsrun.Namespace{"a": a})
	// A tun device (no link-layer header at all), kept up by its open fd.
	var tun int
	err := a.Do(func() (err error) {
		if tun, err = unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0); err != nil {
			return err
		}
		ifr, err := unix.NewIfreq("tun0")
		if err != nil {
			return err
		}
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
		return unix.IoctlIfreq(tun, unix.TUNSETIFF, ifr)
	})
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("no tun device here: %v", err)
	}
	if errors.Is(err, os.ErrPermission) && reexec.InRootless() {
		t.Skipf("a rootless run cannot open /dev/net/tun here (its mode is 0600): %v", err)
	}
	require.NoError(t, err)
	defer unix.Close(tun)
	h, err := a.Netlink()
	require.NoError(t, err)
	link, err := h.LinkByName("tun0")
	require.NoError(t, err)
	require.NoError(t, h.LinkSetUp(link))
	addr, err := netlink.ParseAddr("10.7.0.1/24")
	require.NoError(t, err)
	require.NoError(t, h.AddrAdd(link, addr))
	conn, err := a.Dial("udp", "10.7.0.2:9")
	require.NoError(t, err)
	defer conn.Close()
	var p capture.Packet // the first IPv4 one (the kernel sends IPv6 ones too)
	f := readBack(t, c, func(f *capture.File) bool {
		conn.Write([]byte("over tun"))
		for _, p = range f.Packets {
			if len(p.Data) > 14 && p.Data[12] == 0x08 && p.Data[13] == 0x00 {
				return true
			}
		}
		return false
	})
	require.Contains(t, f.Interfaces, "a/tun0")
	assert.Equal(t, "a/tun0", f.Interfaces[p.Interface])
	assert.Equal(t, append(make([]byte, 12), 0x08, 0x00), p.Data[:14], "a made-up Ethernet header")
	assert.Equal(t, byte(0x45), p.Data[14], "then the IPv4 packet")
	c.Stop()
	out, err := tool(t, "tcpdump", "-n", "-r", writeFile(t, c)).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "10.7.0.1.")
	assert.Contains(t, string(out), "> 10.7.0.2.9: UDP, length 8")
}

// TestIntegrationSizeCapUnderFlood floods a capture of a 1 MiB limit with
// about 40 MB of packets: the file stays under the limit, keeps the newest
// packets, and says that the oldest were dropped. The flood does not wait
// for the capture.
func TestIntegrationSizeCapUnderFlood(t *testing.T) {
	testenv.RequirePrivilege(t)
	client, server, addr := pair(t)
	c := start(t, capture.Config{Limit: capture.MinLimit}, map[string]*nsrun.Namespace{"client": client, "server": server})
	sink, err := server.ListenPacket("udp", net.JoinHostPort(addr, "5000"))
	require.NoError(t, err)
	defer sink.Close()
	go func() { // drain, so that the server answers no ICMP
		buf := make([]byte, 2048)
		for {
			if _, _, err := sink.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	conn, err := client.Dial("udp", net.JoinHostPort(addr, "5000"))
	require.NoError(t, err)
	defer conn.Close()
	const n = 20000
	msg := make([]byte, 1000)
	for i := range n {
		binary.BigEndian.PutUint32(msg, uint32(i))
		_, err := conn.Write(msg)
		if err != nil && !errors.Is(err, unix.ECONNREFUSED) {
			require.NoError(t, err)
		}
	}
	c.Stop()
	st := c.Stats()
	t.Logf("%+v", st)
	assert.NotZero(t, st.Dropped)
	path := writeFile(t, c)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.LessOrEqual(t, fi.Size(), int64(capture.MinLimit+4096), "the file is bounded by the limit")

	b, err := os.ReadFile(path)
	require.NoError(t, err)
	f, err := capture.Read(bytes.NewReader(b))
	require.NoError(t, err)
	require.Len(t, f.Comments, 2+min(1, int(st.KernelDrops)))
	assert.Contains(t, f.Comments[1], fmt.Sprintf("%d packets dropped: the oldest, to stay under the size limit of 1 MiB", st.Dropped))
	// The oldest went: what is left are the last datagrams.
	first, last := uint32(n), uint32(0)
	for _, p := range f.Packets {
		if len(p.Data) >= 42+4 && p.Data[23] == unix.IPPROTO_UDP {
			seq := binary.BigEndian.Uint32(p.Data[42:])
			first, last = min(first, seq), max(last, seq)
		}
	}
	assert.Greater(t, first, uint32(0), "the first datagrams were dropped")
	if st.KernelDrops == 0 {
		assert.Equal(t, uint32(n-1), last, "the last datagram is kept")
	}
	out, err := tool(t, "tcpdump", "-n", "-r", path).CombinedOutput()
	require.NoError(t, err, "%.2000s", out)
	assert.Contains(t, string(out), "UDP, length 1000")
}

// sockets counts this process's open sockets.
func sockets(t testing.TB) int {
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	n := 0
	for _, fd := range fds {
		if l, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.HasPrefix(l, "socket:") {
			n++
		}
	}
	return n
}

// packetSockets counts this process's open AF_PACKET sockets.
func packetSockets(t testing.TB) int {
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	n := 0
	for _, e := range fds {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if d, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DOMAIN); err == nil && d == unix.AF_PACKET {
			n++
		}
	}
	return n
}

// readers counts the goroutines that read a capture's ring, waiting (at
// most five seconds) for the count to be want.
func readers(want int) int {
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		n := strings.Count(string(buf[:runtime.Stack(buf, true)]), "capture.(*source).run(")
		if n == want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestIntegrationStopEndsEverything(t *testing.T) {
	testenv.RequirePrivilege(t)
	a, b := nstest.New(t), nstest.New(t)
	s0 := sockets(t)
	c, err := capture.New(capture.Config{})
	require.NoError(t, err)
	assert.Equal(t, 0, readers(0), "New starts nothing")
	assert.Equal(t, s0, sockets(t), "New opens nothing")
	require.NoError(t, c.Add("a", a.Do))
	require.NoError(t, c.Add("b", b.Do))
	assert.Error(t, c.Add("a", a.Do), "a label is unique")
	assert.Equal(t, 2, readers(2), "one reader per namespace")
	assert.Equal(t, s0+4, sockets(t), "a packet and an rtnetlink socket per namespace")
	c.Remove("a")
	c.Remove("a") // again: nothing
	assert.Equal(t, 1, readers(1))
	assert.Equal(t, s0+2, sockets(t))
	c.Stop()
	c.Stop() // idempotent
	assert.Equal(t, 0, readers(0), "no goroutine left")
	assert.Equal(t, s0, sockets(t), "no socket left")
	assert.ErrorIs(t, c.Add("c", a.Do), capture.ErrStopped)
}

// TestIntegrationRemovedNamespaceGoes: a namespace taken out of a capture
// is not held by it: deleting it removes its veth peer in the other
// namespace at once, as without a capture.
func TestIntegrationRemovedNamespaceGoes(t *testing.T) {
	testenv.RequirePrivilege(t)
	client, server, _ := pair(t)
	c := start(t, capture.Config{}, map[string]*nsrun.Namespace{"client": client, "server": server})
	c.Remove("server")
	hc, err := client.Netlink()
	require.NoError(t, err)
	require.NoError(t, server.Delete())
	require.Eventually(t, func() bool {
		_, err := hc.LinkByName("eth0")
		return err != nil
	}, 10*time.Second, 10*time.Millisecond, "client's eth0 goes with the server's namespace")
}

// TestIntegrationRootless runs the handshake test as a normal user: the test
// binary runs itself again rootless (TestMain is nstest.Main), where the
// packet sockets are made in namespaces of the user's own user namespace.
func TestIntegrationRootless(t *testing.T) {
	u := testuser.Get(t)
	dir := u.Dir(t, true)
	bin := testuser.Copy(t, os.Args[0], dir)
	cmd := u.Command(dir, []string{"NSTEST_STRICT=" + os.Getenv(testenv.StrictEnv)}, bin,
		"-test.run=^TestIntegrationHandshakeReadByTcpdumpAndTshark$", "-test.v", "-test.count=1")
	out, err := cmd.CombinedOutput()
	if blocked := reexec.Detect(); blocked != nil {
		t.Skipf("user namespaces are blocked here: %v", blocked)
	}
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "--- PASS: TestIntegrationHandshakeReadByTcpdumpAndTshark")
}
