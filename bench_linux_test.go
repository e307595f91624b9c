package nsrun_test

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/owner"
	"github.com/nsrun/nsrun/internal/procscan"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
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

// newDelete is the operation the New + Delete benchmarks time.
func newDelete() error {
	n, err := nsrun.New()
	if err != nil {
		return err
	}
	return n.Delete()
}

func benchNewDelete(b *testing.B, withShell bool) {
	vish := nsrun.Dir() == vishDir
	var ours, scanned, floor, vishT, shell timer
	var i int
	ops := []func(){
		func() {
			ours.time(b, newDelete)
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

// BenchmarkNewDeleteParts prices what New + Delete does beyond the floor,
// one guarantee at a time, in the same interleaved loop: the floor keeping
// an fd of the namespace (as New does); the same with the open-watch that
// lets Delete skip the /proc scan (procscan.StartWatch before the name
// exists, Opened after it is gone); the same with the owner record that
// lets a sweep find a crashed run's namespaces (owner.Claim before,
// owner.RemoveRecord after); the floor on a fresh goroutine, waited for
// (New makes the namespace on one, so that the caller's thread never
// moves); and New + Delete. Each x- metric is the
// median of that row over the floor's median (the fd included): medians,
// because the kernel's deferred namespace cleanup lands on whichever
// operation runs next, and means follow those outliers.
//
//	go test -run '^$' -bench NewDeleteParts -benchtime 1000x -count 3 .
func BenchmarkNewDeleteParts(b *testing.B) {
	if n, err := nsrun.New(); err == nil {
		n.Delete() // the first New prepares the directories
	} else {
		b.Skip(err)
	}
	var floor, watched, recorded, fresh, ours samples
	var i int
	cycle := func(watch, record bool) error {
		name := fmt.Sprintf("nsrun-parts-%d", i)
		path := filepath.Join(nsrun.Dir(), name)
		var w procscan.Watch
		if record {
			if err := owner.Claim(owner.New(name)); err != nil {
				return err
			}
		}
		fd, err := floorCreateWith(path, func(fd int) {
			if watch {
				w = procscan.StartWatch(fd)
			}
		})
		if err != nil {
			return err
		}
		if watch && w == (procscan.Watch{}) {
			return errors.New("no watch")
		}
		err = floorDelete(path)
		if watch && w.Opened() {
			err = errors.Join(err, errors.New("the watch saw an open"))
		}
		unix.Close(fd)
		if record {
			err = errors.Join(err, owner.RemoveRecord(name))
		}
		return err
	}
	ops := []func(){
		func() { floor.time(b, func() error { return cycle(false, false) }) },
		func() { watched.time(b, func() error { return cycle(true, false) }) },
		func() { recorded.time(b, func() error { return cycle(false, true) }) },
		func() {
			fresh.time(b, func() error {
				errc := make(chan error, 1)
				go func() { errc <- cycle(false, false) }()
				return <-errc
			})
		},
		func() {
			ours.time(b, newDelete)
		},
	}
	for ; i < b.N; i++ {
		interleave(i, ops)
	}
	f := floor.median()
	b.ReportMetric(float64(ours.median().Nanoseconds()), "ns/op")
	b.ReportMetric(float64(f.Nanoseconds()), "floor-ns/op")
	b.ReportMetric(float64(ours.median())/float64(f), "x-floor")
	b.ReportMetric(float64(watched.median())/float64(f), "x-watch")
	b.ReportMetric(float64(recorded.median())/float64(f), "x-record")
	b.ReportMetric(float64(fresh.median())/float64(f), "x-fresh")
}

// samples keeps each duration, for medians.
type samples []time.Duration

func (s *samples) time(b *testing.B, f func() error) {
	start := time.Now()
	if err := f(); err != nil {
		b.Fatal(err)
	}
	*s = append(*s, time.Since(start))
}

func (s samples) median() time.Duration {
	c := slices.Clone(s)
	slices.Sort(c)
	return c[len(c)/2]
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

// doTarget returns a namespace for the Do benchmarks, deleted when the
// benchmark ends, and its fd (handed out, as Do would hand it).
func doTarget(b *testing.B) (*nsrun.Namespace, int) {
	n, err := nsrun.New()
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(func() { n.Delete() })
	return n, n.Fd()
}

// nop is the empty function the Do benchmarks run.
func nop() error { return nil }

// BenchmarkDo: an empty Do against two bare setns calls on a locked thread
// and against vishvananda's netns.Get, Set, Set (what a caller of that
// package writes to run code in a namespace). x-floor-go is an empty Go,
// waited for: the same on a fresh goroutine.
func BenchmarkDo(b *testing.B) {
	n, fd := doTarget(b)
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

// BenchmarkDoLocked: an empty Do called from a goroutine locked to its
// thread (as a subtest pinned by nstest.Run is), against two bare setns
// calls. fn cannot run on the caller's thread then: the goroutine that runs
// it needs another thread, and what the hand-offs between threads cost is
// the machine's. (It runs apart from BenchmarkDo: the hand-offs leave the
// scheduler busy, which would slow whatever runs next.)
func BenchmarkDoLocked(b *testing.B) {
	n, fd := doTarget(b)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var ours, floor timer
	ops := []func(){
		func() { ours.time(b, func() error { return n.Do(nop) }) },
		func() { floor.time(b, func() error { return floorSetnsPair(fd) }) },
	}
	for i := 0; i < b.N; i++ {
		interleave(i, ops)
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
