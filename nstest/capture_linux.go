package nstest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/fixture"
	"github.com/nsrun/nsrun/internal/capture"
)

// The environment variables of packet capture (see Capture).
const (
	captureEnv        = "NSTEST_CAPTURE"         // DIR: capture every test that makes namespaces, into DIR
	captureKeepEnv    = "NSTEST_CAPTURE_KEEP"    // 1: keep the captures of passing tests too
	captureSnaplenEnv = "NSTEST_CAPTURE_SNAPLEN" // bytes kept of each packet
	captureLimitEnv   = "NSTEST_CAPTURE_LIMIT"   // bytes of packets kept per test (64MiB, say)
)

// Capture records the packets of the test: every interface of every
// namespace that New and Topology make for it or for its subtests, before
// or after the call, interfaces created later included, into one
// time-ordered pcapng file with one interface per "NODE/IFACE" (NODE is a
// topology node's name, or else the namespace's), which tcpdump, tshark and
// Wireshark read.
//
// Packets are kept in memory (at most NSTEST_CAPTURE_LIMIT bytes, 32MiB by
// default: beyond it the oldest are dropped, and the file says how many)
// and written only if the test fails, when its cleanup logs
//
//	nstest: capture: DIR/TestName.pcapng (N packets, M dropped)
//
// A passing test leaves no file, unless NSTEST_CAPTURE_KEEP=1. DIR is
// NSTEST_CAPTURE if set, else nstest-capture in the system's temporary
// directory. Each packet is cut to NSTEST_CAPTURE_SNAPLEN bytes (65535 by
// default). A test about to hit go test's -timeout (which ends the binary
// without running cleanups) writes its capture shortly before, and says so
// on stderr.
//
// Setting NSTEST_CAPTURE=DIR captures every test that makes namespaces,
// without calling Capture. Without either, capture costs nothing: no
// socket, no goroutine. The capture never slows the test's traffic: when it
// cannot keep up, the kernel drops packets for it, and the file counts
// them. It needs the privilege New needs (skipping without it, as New
// does), and costs one socket pair and one goroutine (parked, holding no
// thread) per namespace. Call Capture before the test's own cleanups: the
// decision to keep the file is made in Capture's cleanup, which sees the
// failures of the cleanups registered after it only.
func Capture(tb testing.TB) {
	tb.Helper()
	RequirePrivilege(tb)
	captures.Lock()
	defer captures.Unlock()
	if captureOf(tb.Name()) != nil {
		return // the test or its parent captures already
	}
	tc := startCapture(tb)
	for _, w := range captures.watched[tb.Name()] {
		tc.add(tb, w)
	}
}

// captures is the registry of running captures and, so that Capture can
// pick them up, of the live namespaces each test made; both by test name.
var captures struct {
	sync.Mutex
	running map[string]*testCapture
	watched map[string][]*watched
	active  atomic.Int32 // len(running), read without the lock
}

// watched is a namespace New or Topology made.
type watched struct {
	node  string // its label: node name or namespace name
	ns    *nsrun.Namespace
	in    *testCapture // the capture reading it, if any
	label string       // its label in that capture (node, or node#2...)
}

// testCapture is the capture of one test.
type testCapture struct {
	tb     testing.TB
	c      *capture.Capture
	dir    string
	keep   bool
	labels map[string]bool
	timer  *time.Timer

	mu   sync.Mutex // path and done: the deadline writer and the cleanup
	path string     // the file, once written
	done bool
}

// captureConfig reads the environment variables.
func captureConfig(name string) (dir string, keep bool, cfg capture.Config, err error) {
	dir = os.Getenv(captureEnv)
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "nstest-capture")
	}
	keep = os.Getenv(captureKeepEnv) == "1"
	cfg.Comment = "test " + name
	if v := os.Getenv(captureSnaplenEnv); v != "" {
		if cfg.Snaplen, err = strconv.Atoi(v); err != nil {
			return "", false, cfg, fmt.Errorf("%s=%q: want a number of bytes", captureSnaplenEnv, v)
		}
	}
	if v := os.Getenv(captureLimitEnv); v != "" {
		if cfg.Limit, err = capture.ParseSize(v); err != nil {
			return "", false, cfg, fmt.Errorf("%s: %w", captureLimitEnv, err)
		}
	}
	return dir, keep, cfg, nil
}

// startCapture starts the capture of tb, which ends in tb's cleanup. The
// caller holds captures' lock.
func startCapture(tb testing.TB) *testCapture {
	tb.Helper()
	dir, keep, cfg, err := captureConfig(tb.Name())
	if err == nil {
		var c *capture.Capture
		if c, err = capture.New(cfg); err == nil {
			tc := &testCapture{tb: tb, c: c, dir: dir, keep: keep, labels: map[string]bool{}}
			if captures.running == nil {
				captures.running = map[string]*testCapture{}
			}
			captures.running[tb.Name()] = tc
			captures.active.Add(1)
			tb.Cleanup(tc.end)
			tc.beforeDeadline()
			return tc
		}
	}
	tb.Fatalf("nstest: capture: %v", err)
	return nil
}

// captureOf returns the capture of the test called name or of the nearest
// parent that has one. The caller holds captures' lock.
func captureOf(name string) *testCapture {
	for {
		if tc := captures.running[name]; tc != nil {
			return tc
		}
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			return nil
		}
		name = name[:i]
	}
}

// watch records the namespaces New or Topology just made for tb (node name
// -> namespace) and, if the test captures (or NSTEST_CAPTURE is set, which
// starts a capture), adds them to the capture. Its cleanup, which runs
// before the one that deletes the namespaces, takes them out again.
func watch(tb testing.TB, nodes map[string]*nsrun.Namespace) {
	tb.Helper()
	captures.Lock()
	defer captures.Unlock()
	tc := (*testCapture)(nil)
	if captures.active.Load() > 0 {
		tc = captureOf(tb.Name())
	}
	if tc == nil && os.Getenv(captureEnv) != "" {
		tc = startCapture(tb)
	}
	if captures.watched == nil {
		captures.watched = map[string][]*watched{}
	}
	var ws []*watched
	for node, ns := range nodes {
		w := &watched{node: node, ns: ns}
		ws = append(ws, w)
		if tc != nil {
			tc.add(tb, w)
		}
	}
	name := tb.Name()
	captures.watched[name] = append(captures.watched[name], ws...)
	tb.Cleanup(func() { unwatch(name, ws) })
}

// unwatch forgets the namespaces ws and takes them out of their capture.
func unwatch(name string, ws []*watched) {
	captures.Lock()
	list := captures.watched[name]
	for _, w := range ws {
		for i, x := range list {
			if x == w {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
	}
	if len(list) == 0 {
		delete(captures.watched, name)
	} else {
		captures.watched[name] = list
	}
	var in []watched
	for _, w := range ws {
		if w.in != nil {
			in = append(in, *w)
		}
	}
	captures.Unlock()
	for _, w := range in {
		w.in.c.Remove(w.label) // a no-op once the capture stopped
	}
}

// add starts capturing w. The caller holds captures' lock.
func (tc *testCapture) add(tb testing.TB, w *watched) {
	tb.Helper()
	label := w.node
	for i := 2; tc.labels[label]; i++ {
		label = w.node + "#" + strconv.Itoa(i)
	}
	if err := tc.c.Add(label, w.ns.Do); err != nil {
		tb.Fatalf("nstest: %v", err) // "capture LABEL: ..."
	}
	tc.labels[label] = true
	w.in, w.label = tc, label
}

// end is the capture's cleanup: it stops the capture and writes the file if
// the test failed (or NSTEST_CAPTURE_KEEP=1), else removes what the
// deadline writer may have written.
func (tc *testCapture) end() {
	captures.Lock()
	delete(captures.running, tc.tb.Name())
	captures.active.Add(-1)
	captures.Unlock()
	if tc.timer != nil {
		tc.timer.Stop()
	}
	tc.c.Stop()
	tc.mu.Lock()
	defer tc.mu.Unlock()
	tc.done = true
	if !tc.tb.Failed() && !panicking() && !tc.keep {
		if tc.path != "" {
			os.Remove(tc.path)
		}
		return
	}
	st := tc.c.Stats()
	if err := tc.write(); err != nil {
		tc.tb.Errorf("nstest: capture: %v", err)
		return
	}
	tc.tb.Logf("nstest: capture: %s (%d packets, %d dropped)", tc.path, st.Packets, st.AllDropped())
}

// write writes the capture to its file, choosing the file on the first
// call. The caller holds tc.mu.
func (tc *testCapture) write() error {
	if tc.path == "" {
		if err := os.MkdirAll(tc.dir, 0o755); err != nil {
			return err
		}
		path, err := reserve(tc.dir, fileName(tc.tb.Name()))
		if err != nil {
			return err
		}
		tc.path = path
	}
	return tc.c.WriteFile(tc.path)
}

// beforeDeadline arranges for the capture to be written shortly before the
// test binary's -timeout, which panics without running cleanups. It costs
// a timer, and a goroutine only if it fires.
func (tc *testCapture) beforeDeadline() {
	t, ok := tc.tb.(interface{ Deadline() (time.Time, bool) })
	if !ok {
		return
	}
	deadline, ok := t.Deadline()
	if !ok {
		return
	}
	left := time.Until(deadline)
	margin := min(5*time.Second, left/10)
	tc.timer = time.AfterFunc(left-margin, func() {
		tc.mu.Lock()
		defer tc.mu.Unlock()
		if tc.done {
			return
		}
		st := tc.c.Stats()
		err := tc.write()
		if err == nil {
			fmt.Fprintf(os.Stderr, "nstest: capture: %s (%d packets, %d dropped): %s is about to time out\n", tc.path, st.Packets, st.AllDropped(), tc.tb.Name())
		} else {
			fmt.Fprintf(os.Stderr, "nstest: capture: %s is about to time out: %v\n", tc.tb.Name(), err)
		}
	})
}

// fileName is the capture file name of the test called name: each run of
// characters other than [A-Za-z0-9_.-] made one "-", then ".pcapng".
func fileName(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range name {
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '.' || r == '-' {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return b.String() + ".pcapng"
}

// reserve creates an empty file called name in dir, or NAME-2.pcapng, -3,
// ... if it exists (another package's test of the same name, or -count),
// and returns its path.
func reserve(dir, name string) (string, error) {
	base := strings.TrimSuffix(name, ".pcapng")
	for i := 1; ; i++ {
		path := filepath.Join(dir, name)
		if i > 1 {
			path = filepath.Join(dir, fmt.Sprintf("%s-%d.pcapng", base, i))
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			return path, f.Close()
		}
		if !errors.Is(err, os.ErrExist) || i >= 1000 {
			return "", err
		}
	}
}

// watchTopology is watch for the nodes of f, labelled with their names.
func watchTopology(tb testing.TB, f *fixture.Fixture) {
	tb.Helper()
	nodes := map[string]*nsrun.Namespace{}
	for _, n := range f.Nodes() {
		nodes[n], _ = f.Namespace(n) // n is one of f's nodes
	}
	watch(tb, nodes)
}

// panicking reports whether the calling goroutine is panicking: a test's
// cleanups run while it panics, before the testing package marks it as
// failed (Go 1.26's tRunner), so Failed does not tell then. The goroutine's
// own stack does: it shows the panic's frame.
func panicking() bool {
	buf := make([]byte, 64<<10)
	return bytes.Contains(buf[:runtime.Stack(buf, false)], []byte("\npanic("))
}
