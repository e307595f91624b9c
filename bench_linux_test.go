package nsrun_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/vishvananda/netlink"
)

// The benchmarks put each operation beside its floor (the bare syscalls)
// and its shell-out (the ip commands), interleaved in one loop so that the
// machine's noise hits all alike, and report the ratios as metrics:
//
//	go test -run '^$' -bench . -benchtime 2s .
//
// x-floor is ours / floor (lower is better); shell/x is shell / ours
// (higher is better). BenchmarkNewDelete also reports x-floor+scan: ours
// against the floor plus the /proc scan Delete needs to find (and kill)
// the processes inside, which the bare syscalls skip.

type timer struct{ d time.Duration }

func (t *timer) time(b *testing.B, f func() error) {
	start := time.Now()
	if err := f(); err != nil {
		b.Fatal(err)
	}
	t.d += time.Since(start)
}

func report(b *testing.B, ours, floor, shell *timer) {
	n := float64(b.N)
	b.ReportMetric(float64(ours.d.Nanoseconds())/n, "ns/op")
	if floor != nil {
		b.ReportMetric(float64(floor.d.Nanoseconds())/n, "floor-ns/op")
		b.ReportMetric(float64(ours.d)/float64(floor.d), "x-floor")
	}
	if shell != nil {
		b.ReportMetric(float64(shell.d.Nanoseconds())/n, "shell-ns/op")
		b.ReportMetric(float64(shell.d)/float64(ours.d), "shell/x")
	}
}

func sh(name string, args ...string) func() error {
	return func() error {
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s %v: %w: %s", name, args, err, out)
		}
		return nil
	}
}

// BenchmarkNewDelete: New (lo up) + Delete, against the floor
// (open O_EXCL, unshare, bind mount, lo up; umount, unlink) and
// `ip netns add X; ip -n X link set lo up; ip netns del X`.
func BenchmarkNewDelete(b *testing.B) {
	// Warm up: the first New prepares the directory.
	if n, err := nsrun.New(); err == nil {
		n.Delete()
	} else {
		b.Skip(err)
	}
	var ours, floor, scan, shell timer
	for i := 0; i < b.N; i++ {
		ours.time(b, func() error {
			n, err := nsrun.New()
			if err != nil {
				return err
			}
			return n.Delete()
		})
		// The floor plus the one thing Delete must do that the floor does
		// not: scan /proc for processes inside, to kill them.
		scanned := fmt.Sprintf("nsrun-floorscan-%d", i)
		scan.time(b, func() error {
			if err := floorCreate(filepath.Join(nsrun.Dir(), scanned)); err != nil {
				return err
			}
			if _, err := nsrun.Pids(scanned); err != nil {
				return err
			}
			return floorDelete(filepath.Join(nsrun.Dir(), scanned))
		})
		path := filepath.Join(nsrun.Dir(), fmt.Sprintf("nsrun-floor-%d", i))
		floor.time(b, func() error {
			if err := floorCreate(path); err != nil {
				return err
			}
			return floorDelete(path)
		})
		name := fmt.Sprintf("nsrun-shell-%d", i)
		shell.time(b, func() error {
			for _, f := range []func() error{sh("ip", "netns", "add", name), sh("ip", "-n", name, "link", "set", "lo", "up"), sh("ip", "netns", "del", name)} {
				if err := f(); err != nil {
					return err
				}
			}
			return nil
		})
	}
	report(b, &ours, &floor, &shell)
	b.ReportMetric(float64(ours.d)/float64(scan.d), "x-floor+scan")
}

// BenchmarkDo: an empty Do against two bare setns calls on a locked thread.
func BenchmarkDo(b *testing.B) {
	n, err := nsrun.New()
	if err != nil {
		b.Skip(err)
	}
	defer n.Delete()
	fd := n.Fd()
	nop := func() error { return nil }
	var ours, floor timer
	for i := 0; i < b.N; i++ {
		ours.time(b, func() error { return n.Do(nop) })
		floor.time(b, func() error { return floorSetnsPair(fd) })
	}
	report(b, &ours, &floor, nil)
}

// BenchmarkVethPair: a veth pair between two existing namespaces, created
// in place (peer in its namespace, both ends up) and deleted, against the
// same netlink calls through a plain handle and against
// `ip -n A link add a type veth peer b netns B; up; up; del`.
func BenchmarkVethPair(b *testing.B) {
	na, err := nsrun.New()
	if err != nil {
		b.Skip(err)
	}
	defer na.Delete()
	nb, err := nsrun.New()
	if err != nil {
		b.Fatal(err)
	}
	defer nb.Delete()
	if err := nsrun.WireNSIDs(na, nb); err != nil {
		b.Fatal(err)
	}
	ha, _ := na.Netlink()
	hb, _ := nb.Netlink()
	veth := func() error {
		v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "va"}, PeerName: "vb", PeerNamespace: netlink.NsFd(nb.Fd())}
		if err := ha.LinkAdd(v); err != nil {
			return err
		}
		if err := ha.LinkSetUp(v); err != nil {
			return err
		}
		peer, err := hb.LinkByName("vb")
		if err != nil {
			return err
		}
		if err := hb.LinkSetUp(peer); err != nil {
			return err
		}
		return ha.LinkDel(v)
	}
	var ours, shell timer
	for i := 0; i < b.N; i++ {
		ours.time(b, veth)
		shell.time(b, func() error {
			for _, f := range []func() error{
				sh("ip", "-n", na.Name(), "link", "add", "va", "type", "veth", "peer", "vb", "netns", nb.Name()),
				sh("ip", "-n", na.Name(), "link", "set", "va", "up"),
				sh("ip", "-n", nb.Name(), "link", "set", "vb", "up"),
				sh("ip", "-n", na.Name(), "link", "del", "va"),
			} {
				if err := f(); err != nil {
					return err
				}
			}
			return nil
		})
	}
	report(b, &ours, nil, &shell)
}
