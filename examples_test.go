package nsrun_test

import (
	"fmt"
	"log"
	"net"
	"testing"

	"github.com/nsrun/nsrun"
)

// Two namespaces joined by a veth pair, each end with an address, and a TCP
// round trip across. (Needs root: no Output to check.)
func Example_twoNamespaces() {
	a, err := nsrun.New()
	if err != nil {
		log.Fatal(err)
	}
	defer a.Delete()
	b, err := nsrun.New()
	if err != nil {
		log.Fatal(err)
	}
	defer b.Delete()
	// Give each an id for the other before linking them.
	if err := nsrun.WireNSIDs(a, b); err != nil {
		log.Fatal(err)
	}
	// Configure with commands run inside, as `ip netns exec` would.
	for _, args := range [][]string{
		{"ip", "link", "add", "eth0", "type", "veth", "peer", "eth0", "netns", b.Name()},
		{"ip", "addr", "add", "10.0.0.1/24", "dev", "eth0"},
		{"ip", "link", "set", "eth0", "up"},
	} {
		if out, err := a.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			log.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	for _, args := range [][]string{
		{"ip", "addr", "add", "10.0.0.2/24", "dev", "eth0"},
		{"ip", "link", "set", "eth0", "up"},
	} {
		if out, err := b.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			log.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	ln, err := b.Listen("tcp", "10.0.0.2:8080")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			fmt.Fprintln(c, "hello from b")
			c.Close()
		}
	}()
	c, err := a.Dial("tcp", "10.0.0.2:8080")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	fmt.Print(string(buf[:n]))
}

// Do runs a function on a thread inside the namespace; the caller's
// goroutine stays where it is.
func ExampleNamespace_Do() {
	n, err := nsrun.New()
	if err != nil {
		log.Fatal(err)
	}
	defer n.Delete()
	err = n.Do(func() error {
		ifaces, err := net.Interfaces()
		for _, i := range ifaces {
			fmt.Println(i.Name) // only "lo"
		}
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
}

// List is `ip netns list`.
func ExampleList() {
	entries, err := nsrun.List()
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range entries {
		fmt.Println(e.Name, e.NSID)
	}
}

// ValidateName applies iproute2's rules without touching the system.
func ExampleValidateName() {
	fmt.Println(nsrun.ValidateName("client"))
	fmt.Println(nsrun.ValidateName("a/b"))
	// Output:
	// <nil>
	// invalid namespace name "a/b": contains '/' or NUL
}

// The examples above need root, so go test only compiles them; this test
// runs them (a failure exits through log.Fatal, failing the binary).
func TestIntegrationExamplesRun(t *testing.T) {
	Example_twoNamespaces()
	ExampleNamespace_Do()
	ExampleList()
}
