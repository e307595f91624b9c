package netdump_test

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/fixture"
	"github.com/nsrun/nsrun/internal/leakcheck"
	"github.com/nsrun/nsrun/internal/netdump"
	"github.com/nsrun/nsrun/nstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) { os.Exit(leakcheck.Run(m)) }

// TestIntegrationGather checks a dump against what the test made: the
// addresses, a route, a listening and a connected socket, and drops made on
// purpose by a token bucket too small for a burst.
func TestIntegrationGather(t *testing.T) {
	f := nstest.Topology(t, fixture.Pair("client", "server"))
	client, err := f.Namespace("client")
	require.NoError(t, err)
	server, err := f.Namespace("server")
	require.NoError(t, err)
	srvAddr, err := f.IPv4("server")
	require.NoError(t, err)

	ln, err := server.Listen("tcp", ":8080")
	require.NoError(t, err)
	defer ln.Close()
	conn, err := client.Dial("tcp", netip.AddrPortFrom(srvAddr, 8080).String())
	require.NoError(t, err)
	defer conn.Close()
	acc, err := ln.Accept()
	require.NoError(t, err)
	defer acc.Close()

	link, err := f.Link("client", "eth0")
	require.NoError(t, err)
	require.NoError(t, link.SetRate(100_000))
	udp, err := client.Dial("udp", netip.AddrPortFrom(srvAddr, 9).String())
	require.NoError(t, err)
	defer udp.Close()
	payload := make([]byte, 1400)
	for range 300 {
		_, _ = udp.Write(payload) // a burst far over the bucket: most is dropped
	}

	start := time.Now()
	dumps := netdump.GatherAll(map[string]*nsrun.Namespace{"client": client, "server": server})
	t.Logf("gathered in %v", time.Since(start))
	require.Len(t, dumps, 2)
	c, s := dumps[0], dumps[1]
	assert.Equal(t, "client", c.Label)
	assert.Equal(t, client.Name(), c.Namespace)
	assert.Empty(t, c.Errors)
	assert.Empty(t, s.Errors)

	eth0 := findLink(t, c, "eth0")
	assert.Equal(t, "veth", eth0.Kind)
	assert.Equal(t, "UP", eth0.State)
	assert.Contains(t, eth0.Addrs, "10.200.0.1/30")
	assert.Greater(t, eth0.TX.Packets, uint64(0))
	assert.Contains(t, findLink(t, s, "eth0").Addrs, "10.200.0.2/30")

	var connected bool
	for _, r := range c.Routes {
		connected = connected || (r.Dst == "10.200.0.0/30" && r.Dev == "eth0" && r.Src == "10.200.0.1")
	}
	assert.True(t, connected, "the connected route: %+v", c.Routes)

	var listening, established bool
	for _, so := range s.Sockets {
		listening = listening || (so.Proto == "tcp6" || so.Proto == "tcp") && so.State == "LISTEN" && so.Local == "*:8080"
	}
	assert.True(t, listening, "the server's listener: %+v", s.Sockets)
	for _, so := range c.Sockets {
		established = established || (so.Proto == "tcp" && so.State == "ESTABLISHED" && so.Remote == "10.200.0.2:8080")
	}
	assert.True(t, established, "the client's connection: %+v", c.Sockets)

	var tbf *netdump.Qdisc
	for i, q := range c.Qdiscs {
		if q.Kind == "tbf" && q.Dev == "eth0" {
			tbf = &c.Qdiscs[i]
		}
	}
	require.NotNil(t, tbf, "the rate limit: %+v", c.Qdiscs)
	assert.Greater(t, tbf.Drops, uint32(0), "the burst was dropped")
	assert.Contains(t, tbf.Params, "rate 100Kbit")
	assert.Equal(t, "0", c.Sysctls["net/ipv4/ip_forward"])

	text := c.String()
	for _, want := range []string{"== client (namespace " + client.Name() + ")", "links:", "10.200.0.1/30", "routes:", "sockets:", "ESTABLISHED", "qdiscs:", "tbf", "net.ipv4.ip_forward=0", "burst 16384B"} {
		assert.Contains(t, text, want)
	}
	t.Log("\n" + text)
}

func findLink(t *testing.T, d netdump.Dump, name string) netdump.Link {
	t.Helper()
	for _, l := range d.Links {
		if l.Name == name {
			return l
		}
	}
	t.Fatalf("no link %s in %+v", name, d.Links)
	return netdump.Link{}
}

// TestIntegrationGatherDownLink: a link set down shows as such, and
// traffic sent at it is counted where it went.
func TestIntegrationGatherDownLink(t *testing.T) {
	f := nstest.Topology(t, fixture.Pair("a", "b"))
	link, err := f.Link("a", "eth0")
	require.NoError(t, err)
	require.NoError(t, link.Down())
	a, err := f.Namespace("a")
	require.NoError(t, err)
	d := netdump.Gather("a", a)
	eth0 := findLink(t, d, "eth0")
	assert.False(t, eth0.Admin)
	assert.Equal(t, "DOWN", eth0.State)
	assert.Contains(t, d.String(), "DOWN,admin-down")
}

// BenchmarkGatherLAN16 dumps all 16 hosts and the switch of a LAN, as a
// failing test with that topology would; the bound is 50 ms.
func BenchmarkGatherLAN16(b *testing.B) {
	f := nstest.Topology(b, fixture.LAN(16))
	nodes := map[string]*nsrun.Namespace{}
	for _, n := range f.Nodes() {
		nodes[n], _ = f.Namespace(n)
	}
	b.ResetTimer()
	for b.Loop() {
		for _, d := range netdump.GatherAll(nodes) {
			if len(d.Errors) > 0 {
				b.Fatal(d.Errors)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/dump")
}
