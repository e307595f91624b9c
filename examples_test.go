package nsrun_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"testing"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Two namespaces joined by a veth pair, each end with an address, and a TCP
// round trip across. (Needs root: no Output to check.)
func Example_twoNamespaces() {
	a, err := nsrun.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Delete()
	b, err := nsrun.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer b.Delete()
	// Give each an id for the other before linking them.
	if err := nsrun.WireNSIDs(a, b); err != nil {
		fmt.Println(err)
		return
	}
	// Configure with commands run inside, as `ip netns exec` would.
	for _, args := range [][]string{
		{"ip", "link", "add", "eth0", "type", "veth", "peer", "eth0", "netns", b.Name()},
		{"ip", "addr", "add", "10.0.0.1/24", "dev", "eth0"},
		{"ip", "link", "set", "eth0", "up"},
	} {
		if out, err := a.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			fmt.Printf("%v: %v: %s\n", args, err, out)
			return
		}
	}
	for _, args := range [][]string{
		{"ip", "addr", "add", "10.0.0.2/24", "dev", "eth0"},
		{"ip", "link", "set", "eth0", "up"},
	} {
		if out, err := b.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			fmt.Printf("%v: %v: %s\n", args, err, out)
			return
		}
	}
	ln, err := b.Listen("tcp", "10.0.0.2:8080")
	if err != nil {
		fmt.Println(err)
		return
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
		fmt.Println(err)
		return
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
		fmt.Println(err)
		return
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
		fmt.Println(err)
		return
	}
}

// List is `ip netns list`.
func ExampleList() {
	entries, err := nsrun.List()
	if err != nil {
		fmt.Println(err)
		return
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
	// namespace name "a/b": contains '/' or NUL: invalid argument
}

// The examples above need root, so go test only compiles them; this test
// runs them and checks what they print (an example prints its error and
// returns, so its deferred cleanups run).
func TestIntegrationExamplesRun(t *testing.T) {
	testenv.RequirePrivilege(t)
	for _, ex := range []struct {
		name string
		run  func()
		want []string
	}{
		{"twoNamespaces", Example_twoNamespaces, []string{"hello from b"}},
		{"Namespace_Do", ExampleNamespace_Do, []string{"lo"}},
		{"List", ExampleList, nil},
	} {
		out := captureStdout(t, ex.run)
		for _, w := range ex.want {
			assert.Contains(t, out, w, "Example%s", ex.name)
		}
		assert.NotContains(t, out, "error", "Example%s", ex.name)
		assert.NotContains(t, out, "permission", "Example%s", ex.name)
	}
}

// captureStdout runs f with os.Stdout going to a pipe and returns what f
// wrote.
func captureStdout(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	old := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	defer func() {
		os.Stdout = old
	}()
	f()
	os.Stdout = old
	w.Close()
	return string(<-done)
}
