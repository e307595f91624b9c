package nstest_test

import (
	"net"
	"os/exec"
	"testing"

	"github.com/nsrun/nsrun/fixture"
	"github.com/nsrun/nsrun/nstest"
)

// A test with a namespace of its own: a server and a client over the
// namespace's loopback, which no other test can see.
func ExampleNew() {
	_ = func(t *testing.T) { // func TestEcho(t *testing.T) in a _test.go file
		t.Parallel()
		srv := nstest.New(t) // removed, with its processes, in t.Cleanup
		ln, err := srv.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		c, err := srv.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
}

// A subtest that runs inside the namespace: plain net and os/exec calls in
// it act there.
func ExampleRun() {
	_ = func(t *testing.T) {
		ns := nstest.New(t)
		nstest.Run(t, ns, "inside", func(t *testing.T) {
			ifaces, _ := net.Interfaces() // only lo
			if len(ifaces) != 1 {
				t.Errorf("interfaces: %v", ifaces)
			}
			if err := exec.Command("ip", "link", "show", "lo").Run(); err != nil {
				t.Error(err)
			}
		})
	}
}

// A router between two subnets, built for the test and torn down after it.
func ExampleTopology() {
	_ = func(t *testing.T) {
		f := nstest.Topology(t, fixture.Router("client", "router", "server"))
		client, err := f.Namespace("client") // an error lists the nodes if "client" is not one
		if err != nil {
			t.Fatal(err)
		}
		server, err := f.IPv4("server")
		if err != nil {
			t.Fatal(err)
		}
		out, err := client.Command("ping", "-c1", server.String()).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
	}
}

// The one line that lets a package's tests make namespaces without root:
// unprivileged, the test binary runs itself again in a user namespace of
// its own (see Main).
func ExampleMain() {
	_ = func(m *testing.M) { // func TestMain(m *testing.M) in a _test.go file
		nstest.Main(m)
	}
}
