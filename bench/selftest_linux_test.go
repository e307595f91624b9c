package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("nscompare needs root: it creates network namespaces")
	}
	if testing.Short() {
		t.Skip("a run of the benchmark takes a while")
	}
}

// TestSelf runs every row for a few rounds, so that the benchmark cannot
// rot: every contender must work, the tables must have every row, and the
// run's own leftover check must pass. (3000 idle processes take long to
// start on a small machine; 300 exercise the same code.)
func TestSelf(t *testing.T) {
	needRoot(t)
	c, err := parseFlags([]string{"-rounds", "3", "-procs", "0,300", "-blocks", "2", "-per-worker", "1", "-do-batch", "10", "-lan-rounds", "2"})
	if err != nil {
		t.Fatal(err)
	}
	var out, log bytes.Buffer
	if err := run(context.Background(), c, &out, &log); err != nil {
		t.Fatalf("%v\nprogress:\n%s", err, log.String())
	}
	s := out.String()
	for _, want := range []string{
		cRaw, cVish, cCNI, cNsrun, cIP, "the same, 300 idle processes on the host",
		dSetns, dVish, dCNI, dNsrun, "8 parallel workers",
		xUnshare, xStatic, xCgo, xIP, xAll, xGoFloor, lFixture, lScript, "against the Go floor",
		"| target | measured | met? |", "with 300 idle processes ≤ 1.1x with 0",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	t.Log("\n" + s)
}

// TestInterrupted stops a run part way (as Ctrl-C does) and checks that
// it cleans up: the error is the cancellation, not a leftover.
func TestInterrupted(t *testing.T) {
	needRoot(t)
	c, err := parseFlags([]string{"-rounds", "100000", "-procs", "50,0", "-only", "create"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var out, log bytes.Buffer
	err = run(ctx, c, &out, &log)
	if !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "leftover") {
		t.Fatalf("run = %v, want only the deadline\nprogress:\n%s", err, log.String())
	}
	if pids := children(); len(pids) > 0 {
		t.Errorf("child processes left: %v", pids)
	}
}

func TestFlags(t *testing.T) {
	for _, bad := range [][]string{{"-only", "nope"}, {"-rounds", "0"}, {"-procs", "x"}, {"extra"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q): no error", bad)
		}
	}
	c, err := parseFlags([]string{"-only", "do, cmd"})
	if err != nil || !c.only["do"] || !c.only["cmd"] || c.only["create"] {
		t.Errorf("parseFlags -only: %+v, %v", c.only, err)
	}
}
