package rootless

import (
	"io"
	"net"
	"os"
	"testing"

	"github.com/nsrun/nsrun/nstest"
	"github.com/vishvananda/netlink"
)

// TestMain is the one line a package needs to run its tests without root.
func TestMain(m *testing.M) { nstest.Main(m) }

// TestVethRoundTrip makes two namespaces, a veth pair between them with an
// address at each end, and a TCP round trip across it.
func TestVethRoundTrip(t *testing.T) {
	a, b := nstest.New(t), nstest.New(t)
	t.Logf("rootless run: %v (uid %d; namespaces %s, %s)", os.Getenv("NSRUN_ROOTLESS") == "1", os.Getuid(), a.Name(), b.Name())
	ha, err := a.Netlink()
	if err != nil {
		t.Fatal(err)
	}
	hb, err := b.Netlink()
	if err != nil {
		t.Fatal(err)
	}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "va"}, PeerName: "vb", PeerNamespace: netlink.NsFd(b.Fd())}
	if err := ha.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	configure(t, ha, "va", "10.99.0.1/24")
	configure(t, hb, "vb", "10.99.0.2/24")

	ln, err := b.Listen("tcp", "10.99.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, io.LimitReader(c, 5))
	}()
	c, err := a.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "hello" {
		t.Fatalf("echo over the veth: %q, %v", got, err)
	}
	if addr := c.LocalAddr().(*net.TCPAddr); !addr.IP.Equal(net.ParseIP("10.99.0.1")) {
		t.Errorf("dialled from %v, want 10.99.0.1", addr)
	}
}

// configure gives the link called name the address cidr and brings it up.
func configure(t *testing.T, h *netlink.Handle, name, cidr string) {
	t.Helper()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	addr, err := netlink.ParseAddr(cidr)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.AddrAdd(l, addr); err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
}
