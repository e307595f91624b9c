package nsrun_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/vishvananda/netlink"
)

// The benchmarks put each operation beside its floor (the bare syscalls),
// what a user of vishvananda/netns and netlink writes for it, and its
// shell-out (the ip commands), interleaved in one loop so that the
// machine's noise hits all alike, and report the ratios as metrics:
//
//	go test -run '^$' -bench . -benchtime 2s .
//
// x-floor is ours / floor and x-vish ours / vishvananda's (lower is
// better); shell/x is shell / ours (higher is better).

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

// reportVish reports ours against the vishvananda row.
func reportVish(b *testing.B, ours, vish *timer) {
	b.ReportMetric(float64(vish.d.Nanoseconds())/float64(b.N), "vish-ns/op")
	b.ReportMetric(float64(ours.d)/float64(vish.d), "x-vish")
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
// (open O_EXCL, unshare, bind mount, lo up; umount, unlink), against
// vishvananda's NewNamed + LinkSetUp + DeleteNamed, and (on an idle host)
// against `ip netns add X; ip -n X link set lo up; ip netns del X`; with
// 0, 300 and 3000 idle processes on the host beside the benchmark. Delete
// reads /proc to find the processes inside only for a namespace that may
// hold some (see Delete), which a plain New + Delete does not: its x-floor
// must not grow with the host's processes. x-floor-scanned is the other
// case, a namespace whose Fd was handed out (so Delete scans /proc),
// against the same floor.
func BenchmarkNewDelete(b *testing.B) {
	// Warm up: the first New prepares the directory.
	if n, err := nsrun.New(); err == nil {
		n.Delete()
	} else {
		b.Skip(err)
	}
	for _, procs := range []int{0, 300, 3000} {
		var idle []*exec.Cmd
		b.Run(fmt.Sprintf("idle=%d", procs), func(b *testing.B) {
			for len(idle) < procs {
				cmd := exec.Command("sleep", "3600")
				if err := cmd.Start(); err != nil {
					b.Skipf("cannot start %d idle processes (a pid limit?): %v", procs, err)
				}
				idle = append(idle, cmd)
			}
			benchNewDelete(b, procs == 0)
		})
		for _, cmd := range idle {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}
}

func benchNewDelete(b *testing.B, withShell bool) {
	vish := nsrun.Dir() == vishDir
	var ours, scanned, floor, vishT, shell timer
	var i int
	ops := []func(){
		func() {
			ours.time(b, func() error {
				n, err := nsrun.New()
				if err != nil {
					return err
				}
				return n.Delete()
			})
		},
		func() {
			scanned.time(b, func() error {
				n, err := nsrun.New()
				if err != nil {
					return err
				}
				n.Fd()
				return n.Delete()
			})
		},
		func() {
			path := filepath.Join(nsrun.Dir(), fmt.Sprintf("nsrun-floor-%d", i))
			floor.time(b, func() error {
				if err := floorCreate(path); err != nil {
					return err
				}
				return floorDelete(path)
			})
		},
	}
	if vish {
		ops = append(ops, func() {
			vishT.time(b, func() error { return vishCreateDelete(fmt.Sprintf("nsrun-vish-%d", i)) })
		})
	}
	shellRuns := 0
	if withShell {
		ops = append(ops, func() {
			// Three process starts take tens of times longer than the rest,
			// and disturb what runs after them: one round in ten is plenty.
			if i%10 != 0 {
				return
			}
			shellRuns++
			name := fmt.Sprintf("nsrun-shell-%d", i)
			shell.time(b, func() error {
				for _, f := range []func() error{sh("ip", "netns", "add", name), sh("ip", "-n", name, "link", "set", "lo", "up"), sh("ip", "netns", "del", name)} {
					if err := f(); err != nil {
						return err
					}
				}
				return nil
			})
		})
	}
	for i = 0; i < b.N; i++ {
		interleave(i, ops)
	}
	report(b, &ours, &floor, nil)
	if shellRuns > 0 {
		perShell := float64(shell.d) / float64(shellRuns)
		b.ReportMetric(perShell, "shell-ns/op")
		b.ReportMetric(perShell/(float64(ours.d)/float64(b.N)), "shell/x")
	}
	if vish {
		reportVish(b, &ours, &vishT)
	}
	b.ReportMetric(float64(scanned.d)/float64(floor.d), "x-floor-scanned")
}

// interleave runs each of ops once, starting with a different one each
// round: the kernel destroys a namespace asynchronously after its delete,
// which slows whatever runs next, so no op may always follow the same one.
func interleave(round int, ops []func()) {
	for k := range ops {
		ops[(round+k)%len(ops)]()
	}
}

// BenchmarkNewDeleteParallel: New + Delete on 8 goroutines at once against
// the floor on 8 goroutines, in alternating rounds; tput/floor is our
// throughput over the floor's (higher is better). The kernel's locks
// (rtnl, the mount lock) cap both.
func BenchmarkNewDeleteParallel(b *testing.B) {
	if n, err := nsrun.New(); err == nil {
		n.Delete()
	} else {
		b.Skip(err)
	}
	const workers, perRound = 8, 4
	var ours, floor timer
	round := func(t *timer, op func(w, i int) error) {
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				for i := range perRound {
					if err := op(w, i); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		t.d += time.Since(start)
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	rounds := 0
	for done := 0; done < b.N; done += workers * perRound {
		rounds++
		round(&ours, func(int, int) error {
			n, err := nsrun.New()
			if err != nil {
				return err
			}
			return n.Delete()
		})
		round(&floor, func(w, i int) error {
			path := filepath.Join(nsrun.Dir(), fmt.Sprintf("nsrun-pfloor-%d-%d", w, i))
			if err := floorCreate(path); err != nil {
				return err
			}
			return floorDelete(path)
		})
	}
	ops := float64(rounds * workers * perRound)
	b.ReportMetric(float64(ours.d.Nanoseconds())/ops, "ns/op")
	b.ReportMetric(float64(floor.d.Nanoseconds())/ops, "floor-ns/op")
	b.ReportMetric(float64(floor.d)/float64(ours.d), "tput/floor")
}

// BenchmarkDo: an empty Do against two bare setns calls on a locked thread
// and against vishvananda's netns.Get, Set, Set (what a caller of that
// package writes to run code in a namespace). x-floor-go is an empty Go,
// waited for: the same on a fresh goroutine, which is also what Do does
// while a goroutine is pinned by nstest.Run.
func BenchmarkDo(b *testing.B) {
	n, err := nsrun.New()
	if err != nil {
		b.Skip(err)
	}
	defer n.Delete()
	fd := n.Fd()
	nop := func() error { return nil }
	var ours, floor, vish, fresh timer
	ops := []func(){
		func() { ours.time(b, func() error { return n.Do(nop) }) },
		func() { floor.time(b, func() error { return floorSetnsPair(fd) }) },
		func() { vish.time(b, func() error { return vishGetSetSet(fd) }) },
		func() { fresh.time(b, func() error { return <-n.Go(nop) }) },
	}
	for i := 0; i < b.N; i++ {
		interleave(i, ops)
	}
	report(b, &ours, &floor, nil)
	reportVish(b, &ours, &vish)
	b.ReportMetric(float64(fresh.d)/float64(floor.d), "x-floor-go")
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
