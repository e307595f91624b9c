package gopkg

import (
	"io"
	"net"
	"os"
	"testing"
)

// inNsrun skips a test that only makes sense under nsrun.
func inNsrun(t *testing.T) string {
	t.Helper()
	name := os.Getenv("NSRUN_NETNS")
	if name == "" {
		t.Skip("not run through nsrun (go test -exec nsrun)")
	}
	return name
}

func TestOnlyLoopback(t *testing.T) {
	inNsrun(t)
	entries, err := os.ReadDir("/sys/class/net")
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "lo" {
		t.Fatalf("links in /sys/class/net = %v, want only lo", entries)
	}
}

// TestFixedPort listens on a fixed port: in a namespace of its own, a
// parallel run of the same test cannot collide with it.
func TestFixedPort(t *testing.T) {
	inNsrun(t)
	l, err := net.Listen("tcp", "127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			_, _ = c.Write([]byte("hello"))
			_ = c.Close()
		}
	}()
	c, err := net.Dial("tcp", "127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "hello" {
		t.Fatalf("read %q, %v", b, err)
	}
}

// TestFailOnRequest fails when GOPKG_FAIL is set, to check that a failing
// test binary gives go test a failure through nsrun.
func TestFailOnRequest(t *testing.T) {
	inNsrun(t)
	if os.Getenv("GOPKG_FAIL") != "" {
		t.Fatal("failing on request (GOPKG_FAIL is set)")
	}
}
