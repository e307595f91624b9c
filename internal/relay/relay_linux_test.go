package relay_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/relay"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// pair is two namespaces, a and b (10.9.0.1 and 10.9.0.2 on eth0, and
// 10.77.0.1 and .2 on VLAN 7 over it), joined through a relay in a third.
type pair struct {
	a, b *nsrun.Namespace
	link *relay.Link
	vlan bool // the kernel has 802.1Q
}

func newNS(t testing.TB, opts ...nsrun.Option) *nsrun.Namespace {
	ns, err := nsrun.New(opts...)
	require.NoError(t, err)
	t.Cleanup(func() { ns.Delete() })
	return ns
}

func handle(t testing.TB, ns *nsrun.Namespace) *netlink.Handle {
	h, err := ns.Netlink()
	require.NoError(t, err)
	return h
}

// veth makes name in x and peer in y, both up.
func veth(t testing.TB, x *nsrun.Namespace, name string, y *nsrun.Namespace, peer string) {
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name, Namespace: netlink.NsFd(x.Fd())},
		PeerName: peer, PeerNamespace: netlink.NsFd(y.Fd())}
	require.NoError(t, handle(t, x).LinkAdd(v))
	for _, e := range []struct {
		ns   *nsrun.Namespace
		name string
	}{{x, name}, {y, peer}} {
		up(t, e.ns, e.name)
	}
}

func up(t testing.TB, ns *nsrun.Namespace, name string) {
	l, err := handle(t, ns).LinkByName(name)
	require.NoError(t, err)
	require.NoError(t, handle(t, ns).LinkSetUp(l))
}

func addr(t testing.TB, ns *nsrun.Namespace, dev, cidr string) {
	l, err := handle(t, ns).LinkByName(dev)
	require.NoError(t, err)
	a, err := netlink.ParseAddr(cidr)
	require.NoError(t, err)
	require.NoError(t, handle(t, ns).AddrAdd(l, a))
}

func newPair(t testing.TB) *pair {
	testenv.RequirePrivilege(t)
	p := &pair{a: newNS(t), b: newNS(t)}
	m := newNS(t, nsrun.WithSysctl("net.ipv6.conf.all.disable_ipv6", "1"),
		nsrun.WithSysctl("net.ipv6.conf.default.disable_ipv6", "1"))
	veth(t, m, "xa", p.a, "eth0")
	veth(t, m, "xb", p.b, "eth0")
	for _, ns := range []*nsrun.Namespace{p.a, p.b} {
		require.NoError(t, ns.Do(func() error {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			return relay.WireFrames(fd, "eth0")
		}))
	}
	var ports [2]*relay.Port
	for i, name := range []string{"xa", "xb"} {
		l, err := handle(t, m).LinkByName(name)
		require.NoError(t, err)
		require.NoError(t, m.Do(func() (err error) {
			ports[i], err = relay.Open(l.Attrs().Index, 1500)
			return err
		}))
	}
	link, err := relay.Start(ports[0], ports[1], [2]uint64{1, 2})
	require.NoError(t, err)
	p.link = link
	t.Cleanup(func() { link.Close() })
	for i, ns := range []*nsrun.Namespace{p.a, p.b} {
		addr(t, ns, "eth0", fmt.Sprintf("10.9.0.%d/24", i+1))
		eth0, err := handle(t, ns).LinkByName("eth0")
		require.NoError(t, err)
		vlan := &netlink.Vlan{LinkAttrs: netlink.LinkAttrs{Name: "vlan7", ParentIndex: eth0.Attrs().Index}, VlanId: 7}
		if err := handle(t, ns).LinkAdd(vlan); errors.Is(err, unix.EOPNOTSUPP) {
			t.Logf("no VLAN across the relay: the kernel lacks CONFIG_VLAN_8021Q (%v); TestVLANTag covers the relay's part", err)
			p.vlan = false
			continue
		}
		require.NoError(t, err)
		p.vlan = true
		up(t, ns, "vlan7")
		addr(t, ns, "vlan7", fmt.Sprintf("10.77.0.%d/24", i+1))
	}
	return p
}

func listen(t testing.TB, ns *nsrun.Namespace, address string) *net.UDPConn {
	c, err := ns.ListenPacket("udp4", address)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c.(*net.UDPConn)
}

// rtts sends n UDP datagrams one at a time from a to an echo in b at dst
// and returns the round-trip times.
func (p *pair) rtts(t testing.TB, dst string, n int) []time.Duration {
	srv := listen(t, p.b, dst+":7")
	go func() {
		buf := make([]byte, 2048)
		for {
			k, from, err := srv.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			srv.WriteToUDPAddrPort(buf[:k], from)
		}
	}()
	c := listen(t, p.a, ":0")
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(dst), 7))
	buf := make([]byte, 2048)
	var out []time.Duration
	msg := make([]byte, 64)
	for i := range n {
		binary.BigEndian.PutUint32(msg, uint32(i))
		start := time.Now()
		_, err := c.WriteToUDP(msg, to)
		require.NoError(t, err)
		c.SetReadDeadline(time.Now().Add(time.Second))
		for {
			k, _, err := c.ReadFromUDP(buf)
			if err != nil {
				break // lost
			}
			if k >= 4 && binary.BigEndian.Uint32(buf) == uint32(i) {
				out = append(out, time.Since(start))
				break
			}
		}
	}
	return out
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// TestIntegrationRelayPasses: frames cross both ways, VLAN-tagged ones
// with their tag (the kernel hands the tag to a packet socket apart).
func TestIntegrationRelayPasses(t *testing.T) {
	p := newPair(t)
	for _, dst := range []string{"10.9.0.2", "10.77.0.2"} {
		if dst == "10.77.0.2" && !p.vlan {
			continue
		}
		r := p.rtts(t, dst, 50)
		t.Logf("%s: %d of 50 echoed, median round trip %v", dst, len(r), median(r))
		assert.GreaterOrEqual(t, len(r), 45, "echoed across the relay")
	}
	c := p.link.Counters(0)
	t.Logf("counters a->b: %+v", c)
	assert.GreaterOrEqual(t, c.Passed, uint64(45))
	assert.Zero(t, c.Lost+c.Overflow+c.Unsent)
}
