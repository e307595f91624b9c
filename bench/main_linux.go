package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/fixture"
	"github.com/nsrun/nsrun/internal/owner"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// config is the command line.
type config struct {
	rounds    int             // interleaved rounds per group
	lanRounds int             // for the LAN group
	blocks    int             // the create rounds per process count come in this many blocks
	procs     []int           // idle host processes for the create groups; the first is the base
	workers   int             // parallel workers
	perWorker int             // operations per worker per parallel round
	doBatch   int             // Do calls per sample
	lanHosts  int             // hosts of the LAN
	only      map[string]bool // groups to run; empty: all
	nsrunSrc  string          // the nsrun module's directory, to build cmd/nsrun
}

var groupNames = []string{"create", "do", "parallel", "cmd", "lan"}

func main() {
	c, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "nscompare:", err)
		os.Exit(2)
	}
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "nscompare: must run as root: it creates and deletes network namespaces, mounts them, and runs `ip netns` (try: sudo $(go env GOROOT)/bin/go run . or go build && sudo ./nscompare)")
		os.Exit(2)
	}
	// A closed stdout (| head) must fail writes, not kill the run before
	// its cleanup.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	err = run(ctx, c, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		fmt.Fprintln(os.Stderr, "nscompare: interrupted; cleaned up:", err)
		os.Exit(130)
	default:
		fmt.Fprintln(os.Stderr, "nscompare: FAIL:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("nscompare", flag.ContinueOnError)
	var c config
	fs.IntVar(&c.rounds, "rounds", 200, "interleaved `rounds` per row")
	fs.IntVar(&c.lanRounds, "lan-rounds", 50, "rounds of the LAN row (its ip script runs over a hundred processes per round)")
	fs.IntVar(&c.blocks, "blocks", 4, "split each process count's create rounds into this many `blocks`, the counts visited in the order given, then reversed, and so on, so that drift hits all counts alike")
	procs := fs.String("procs", "0,300,3000", "idle host processes (started and killed by the benchmark) for the create rows; the first is the base of the ratios")
	fs.IntVar(&c.workers, "workers", 8, "parallel `workers`")
	fs.IntVar(&c.perWorker, "per-worker", 4, "create+delete operations per worker per parallel round")
	fs.IntVar(&c.doBatch, "do-batch", 100, "Do calls per sample")
	fs.IntVar(&c.lanHosts, "lan-hosts", 16, "hosts of the LAN row")
	only := fs.String("only", "", "comma-separated rows to run, of "+strings.Join(groupNames, ", ")+" (default: all)")
	fs.StringVar(&c.nsrunSrc, "nsrun-src", "", "`directory` of the nsrun module, to build cmd/nsrun (default: from go list, run in this module)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if c.procs, err = parseInts(*procs); err != nil {
		return c, fmt.Errorf("-procs: %w", err)
	}
	c.only = map[string]bool{}
	for _, g := range strings.Split(*only, ",") {
		if g = strings.TrimSpace(g); g == "" {
			continue
		}
		found := false
		for _, n := range groupNames {
			found = found || n == g
		}
		if !found {
			return c, fmt.Errorf("-only: no row %q (want %s)", g, strings.Join(groupNames, ", "))
		}
		c.only[g] = true
	}
	if c.rounds < 1 || c.blocks < 1 || c.workers < 1 || c.perWorker < 1 || c.doBatch < 1 || c.lanHosts < 1 || c.lanRounds < 1 {
		return c, errors.New("-rounds, -lan-rounds, -blocks, -workers, -per-worker, -do-batch and -lan-hosts must be at least 1")
	}
	return c, nil
}

// bench is one run.
type bench struct {
	c      config
	prefix string // of every name the run makes: nscmp<PID>-<random>-
	seq    atomic.Int64
	reg    *registry
	pool   *pool
	res    *results
	log    io.Writer
	tmp    string
	cmds   *runner
	rng    *rand.Rand
}

func (b *bench) want(group string) bool { return len(b.c.only) == 0 || b.c.only[group] }

// name returns a fresh namespace name of the run's.
func (b *bench) name(tag string) string {
	return fmt.Sprintf("%s%s%d", b.prefix, tag, b.seq.Add(1))
}

func (b *bench) path(name string) string { return filepath.Join(nsrun.Dir(), name) }

// contender is one way of doing a group's operation. op times itself (so
// that it can leave out preparation, or divide a batch) and returns the
// sample.
type contender struct {
	name string
	op   func() (time.Duration, error)
}

func timed(f func() error) (time.Duration, error) {
	t0 := time.Now()
	err := f()
	return time.Since(t0), err
}

// rounds runs n interleaved rounds: every contender once per round, in a
// fresh random order.
func (b *bench) rounds(ctx context.Context, g *group, n int, cs []contender) error {
	title := "warm-up"
	if g != nil {
		title = g.title
	}
	for i := 0; i < n; i++ {
		for _, k := range b.rng.Perm(len(cs)) {
			if err := ctx.Err(); err != nil {
				return err
			}
			d, err := cs[k].op()
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("%w (%s: %s: %v)", ctx.Err(), title, cs[k].name, err)
				}
				return fmt.Errorf("%s: %s: %w", title, cs[k].name, err)
			}
			if g != nil {
				g.add(cs[k].name, d)
			}
		}
	}
	return nil
}

// warm runs one untimed round (a group's first uses prepare directories
// and caches).
func (b *bench) warm(ctx context.Context, cs []contender) error { return b.rounds(ctx, nil, 1, cs) }

// Contender names, which the targets refer to.
const (
	cRaw     = "raw syscalls"
	cVish    = "vishvananda/netns NewNamed + netlink LinkSetUp + DeleteNamed"
	cCNI     = "CNI testutils NewNS + Do(lo up) + Close + UnmountNS"
	cNsrun   = "nsrun New + Delete"
	cIP      = "ip netns add; ip -n X link set lo up; ip netns del"
	dSetns   = "two setns on a locked thread"
	dVish    = "vishvananda/netns Get + Set + Set"
	dCNI     = "CNI ns.Do"
	dNsrun   = "nsrun Do"
	xUnshare = "unshare -n true"
	xStatic  = "nsrun -- true (CGO_ENABLED=0 build)"
	xCgo     = "nsrun -- true (default build, cgo)"
	xIP      = "ip netns add X; ip -n X link set lo up; ip netns exec X true; ip netns del X"
	xAll     = "unshare -n -p -m -f --mount-proc true (nsrun's namespaces, in C)"
	xGoFloor = "Go floor: one static Go program unshares, sets lo up, execs true"
	lFixture = "fixture.New + Close"
	lScript  = "ip script (one process per command)"
)

// createOps are the create + lo up + delete contenders, untimed.
func (b *bench) createOps() map[string]func() error {
	return map[string]func() error{
		cRaw: func() error {
			p := b.path(b.name("raw"))
			b.reg.add(p)
			if err := rawCreate(p); err != nil {
				return err
			}
			if err := rawDelete(p); err != nil {
				return err
			}
			b.reg.done(p)
			return nil
		},
		cVish: func() error {
			name := b.name("vish")
			p := b.path(name)
			b.reg.add(p)
			if err := vishCreate(name); err != nil {
				return err
			}
			if err := netns.DeleteNamed(name); err != nil {
				return err
			}
			b.reg.done(p)
			return nil
		},
		cCNI:   func() error { return cniCreateDelete(b.reg) },
		cNsrun: func() error { return nsrunCreateDelete(b.reg, b.prefix+"nsrun-") },
	}
}

func (b *bench) createContenders() []contender {
	ops := b.createOps()
	var cs []contender
	for _, n := range []string{cRaw, cVish, cCNI, cNsrun} {
		cs = append(cs, contender{n, func() (time.Duration, error) { return timed(ops[n]) }})
	}
	return append(cs, contender{cIP, func() (time.Duration, error) {
		name := b.name("ip")
		p := b.path(name)
		b.reg.add(p)
		cmds := ipCommands(b.cmds, name)
		b.cmds.reset()
		d, err := timed(func() error { return b.cmds.run(cmds...) })
		if err == nil {
			b.reg.done(p)
		}
		return d, err
	}})
}

func createTitle(procs int) string {
	if procs == 0 {
		return "create + lo up + delete a named namespace"
	}
	return fmt.Sprintf("the same, %d idle processes on the host", procs)
}

func (b *bench) runCreate(ctx context.Context) error {
	cs := b.createContenders()
	names := []string{cRaw, cVish, cCNI, cNsrun, cIP}
	groups := make([]*group, len(b.c.procs))
	for i, n := range b.c.procs {
		groups[i] = b.res.group(fmt.Sprintf("create/%d", n), createTitle(n), 0, names...)
	}
	if err := b.warm(ctx, cs); err != nil {
		return err
	}
	blocks := min(b.c.blocks, b.c.rounds)
	for blk := range blocks {
		n := b.c.rounds*(blk+1)/blocks - b.c.rounds*blk/blocks
		for j := range groups {
			// ABC CBA ABC ...: balanced against drift, and each count's
			// processes are started (slow) only on the way up.
			i := j
			if blk%2 == 1 {
				i = len(groups) - 1 - j
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			t0 := time.Now()
			if err := b.pool.resize(b.c.procs[i]); err != nil {
				return err
			}
			fmt.Fprintf(b.log, "create: block %d/%d, %d idle processes (ready in %v), %d rounds\n", blk+1, blocks, b.c.procs[i], time.Since(t0).Round(time.Millisecond), n)
			if err := b.rounds(ctx, groups[i], n, cs); err != nil {
				return err
			}
		}
	}
	return b.pool.resize(0)
}

func (b *bench) runDo(ctx context.Context) error {
	n, err := nsrun.New(nsrun.WithPrefix(b.prefix + "do-"))
	if err != nil {
		return err
	}
	b.reg.add(n.Path())
	defer func() {
		if n.Delete() == nil {
			b.reg.done(n.Path())
		}
	}()
	vh, err := netns.GetFromPath(n.Path())
	if err != nil {
		return err
	}
	defer vh.Close()
	cn, err := ns.GetNS(n.Path())
	if err != nil {
		return err
	}
	defer cn.Close()
	fd := n.Fd()
	batch := func(f func() error) func() (time.Duration, error) {
		return func() (time.Duration, error) {
			t0 := time.Now()
			for range b.c.doBatch {
				if err := f(); err != nil {
					return 0, err
				}
			}
			return time.Since(t0) / time.Duration(b.c.doBatch), nil
		}
	}
	cs := []contender{
		{dSetns, batch(func() error { return setnsPair(fd) })},
		{dVish, batch(func() error { return vishDo(vh) })},
		{dCNI, batch(func() error { return cn.Do(func(ns.NetNS) error { return nop() }) })},
		{dNsrun, batch(func() error { return n.Do(nop) })},
	}
	g := b.res.group("do", "Do: enter, run an empty function, come back (per call)", 0, dSetns, dVish, dCNI, dNsrun)
	if err := b.warm(ctx, cs); err != nil {
		return err
	}
	fmt.Fprintf(b.log, "do: %d rounds of %d calls\n", b.c.rounds, b.c.doBatch)
	return b.rounds(ctx, g, b.c.rounds, cs)
}

func (b *bench) runParallel(ctx context.Context) error {
	ops := b.createOps()
	w, m := b.c.workers, b.c.perWorker
	par := func(op func() error) func() (time.Duration, error) {
		return func() (time.Duration, error) {
			var wg sync.WaitGroup
			errs := make([]error, w)
			start := make(chan struct{})
			for i := range w {
				wg.Go(func() {
					<-start
					for range m {
						if errs[i] = op(); errs[i] != nil {
							return
						}
					}
				})
			}
			t0 := time.Now()
			close(start)
			wg.Wait()
			return time.Since(t0), errors.Join(errs...)
		}
	}
	names := []string{cRaw, cVish, cCNI, cNsrun}
	var cs []contender
	for _, n := range names {
		cs = append(cs, contender{n, par(ops[n])})
	}
	title := fmt.Sprintf("%d parallel workers × create + lo up + delete: throughput", w)
	g := b.res.group("parallel", title, w*m, names...)
	if err := b.warm(ctx, cs); err != nil {
		return err
	}
	fmt.Fprintf(b.log, "parallel: %d rounds of %d workers × %d\n", b.c.rounds, w, m)
	return b.rounds(ctx, g, b.c.rounds, cs)
}

// buildGoFloor builds ./gofloor (this module's, see its doc) into b.tmp,
// static, as nsrun's static build.
func (b *bench) buildGoFloor() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("find the bench module (run from bench/): go list: %w", err)
	}
	bin := filepath.Join(b.tmp, "gofloor")
	c := exec.Command("go", "build", "-o", bin, "./gofloor")
	c.Dir, c.Env = strings.TrimSpace(string(out)), append(os.Environ(), "CGO_ENABLED=0")
	if out, err := c.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build gofloor: %w\n%s", err, out)
	}
	return bin, nil
}

// buildNsrun builds cmd/nsrun into b.tmp, static and default.
func (b *bench) buildNsrun() (static, cgo string, err error) {
	src := b.c.nsrunSrc
	if src == "" {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/nsrun/nsrun").Output()
		if err != nil {
			return "", "", fmt.Errorf("find the nsrun module (run from bench/, or pass -nsrun-src): go list: %w", err)
		}
		src = strings.TrimSpace(string(out))
	}
	static, cgo = filepath.Join(b.tmp, "nsrun-static"), filepath.Join(b.tmp, "nsrun")
	for _, bin := range []struct {
		out string
		env []string
	}{{static, []string{"CGO_ENABLED=0"}}, {cgo, nil}} {
		c := exec.Command("go", "build", "-o", bin.out, "./cmd/nsrun")
		c.Dir, c.Env = src, append(os.Environ(), bin.env...)
		if out, err := c.CombinedOutput(); err != nil {
			return "", "", fmt.Errorf("build nsrun in %s: %w\n%s", src, err, out)
		}
	}
	return static, cgo, nil
}

func (b *bench) runCmd(ctx context.Context) error {
	fmt.Fprintln(b.log, "cmd: building nsrun")
	static, cgo, err := b.buildNsrun()
	if err != nil {
		return err
	}
	floor, err := b.buildGoFloor()
	if err != nil {
		return err
	}
	// prepared returns a contender that runs the command mk makes for a
	// fresh name, registering the namespace of that name meanwhile.
	prepared := func(name string, mk func(ns string) *exec.Cmd) contender {
		return contender{name, func() (time.Duration, error) {
			nsName := b.name("cmd")
			p := b.path(nsName)
			c := mk(nsName)
			b.reg.add(p)
			b.cmds.reset()
			d, err := timed(func() error { return b.cmds.run(c) })
			if err == nil {
				b.reg.done(p)
			}
			return d, err
		}}
	}
	nsrunCmd := func(bin string) func(string) *exec.Cmd {
		return func(name string) *exec.Cmd { return b.cmds.cmd(bin, "--name", name, "--", "true") }
	}
	cs := []contender{
		prepared(xUnshare, func(string) *exec.Cmd { return b.cmds.cmd("unshare", "-n", "true") }),
		prepared(xStatic, nsrunCmd(static)),
		prepared(xCgo, nsrunCmd(cgo)),
		prepared(xIP, func(x string) *exec.Cmd {
			return b.cmds.cmd("sh", "-c", "ip netns add "+x+" && ip -n "+x+" link set lo up && ip netns exec "+x+" true && ip netns del "+x)
		}),
		prepared(xAll, func(string) *exec.Cmd {
			return b.cmds.cmd("unshare", "-n", "-p", "-m", "-f", "--mount-proc", "true")
		}),
		prepared(xGoFloor, func(string) *exec.Cmd { return b.cmds.cmd(floor, "true") }),
	}
	g := b.res.group("cmd", "run `true` in a fresh network namespace", 0, xUnshare, xStatic, xCgo, xIP, xAll, xGoFloor)
	if err := b.warm(ctx, cs); err != nil {
		return err
	}
	fmt.Fprintf(b.log, "cmd: %d rounds\n", b.c.rounds)
	return b.rounds(ctx, g, b.c.rounds, cs)
}

func (b *bench) runLAN(ctx context.Context) error {
	h := b.c.lanHosts
	fx := func() (time.Duration, error) {
		spec := fixture.LAN(h)
		spec.Name = strings.TrimSuffix(b.prefix, "-")
		var paths []string
		d, err := timed(func() error {
			f, err := fixture.New(ctx, spec)
			if err != nil {
				return err
			}
			for _, node := range f.Nodes() {
				if n, err := f.Namespace(node); err == nil {
					paths = append(paths, n.Path())
				}
			}
			b.reg.add(paths...)
			return f.Close()
		})
		if err == nil {
			b.reg.done(paths...)
		}
		return d, err
	}
	script := func() (time.Duration, error) {
		names, up, down := lanScript(b.name("ipl")+"-", h)
		paths := make([]string, len(names))
		for i, n := range names {
			paths[i] = b.path(n)
		}
		b.reg.add(paths...)
		cu, cd := b.cmds.cmd("sh", "-e", "-c", up), b.cmds.cmd("sh", "-e", "-c", down)
		b.cmds.reset()
		d, err := timed(func() error { return b.cmds.run(cu, cd) })
		if err == nil {
			b.reg.done(paths...)
		}
		return d, err
	}
	cs := []contender{{lFixture, fx}, {lScript, script}}
	g := b.res.group("lan", fmt.Sprintf("fixture LAN%d (switch + %d hosts): build + teardown", h, h), 0, lFixture, lScript)
	if err := b.warm(ctx, cs); err != nil {
		return err
	}
	fmt.Fprintf(b.log, "lan: %d rounds\n", b.c.lanRounds)
	return b.rounds(ctx, g, b.c.lanRounds, cs)
}

// run measures the groups asked for, then prints the header, the table
// and the targets to out (progress goes to log). Everything the run made is
// removed whatever happens, and the leftover check's failure is an error.
func run(ctx context.Context, c config, out, log io.Writer) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("must run as root")
	}
	if d := nsrun.Dir(); d != "/run/netns" {
		return fmt.Errorf("the netns directory is %s, not /run/netns (NSRUN_NETNS_DIR?): vishvananda/netns and CNI only use /run/netns", d)
	}
	// The PID for people, a random part against another run with the same
	// PID in another PID namespace that shares /run/netns.
	prefix := fmt.Sprintf("nscmp%d-%04x-", os.Getpid(), rand.Uint32()&0xffff)
	b := &bench{
		c:      c,
		prefix: prefix,
		reg:    newRegistry(),
		res:    newResults(),
		log:    log,
		rng:    rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid()))),
	}
	// After the cleanup below (deferred calls run last first): the owner
	// file nsrun's namespace records linked to goes with them.
	defer func() { _ = owner.Release() }()
	defer func() { err = errors.Join(err, b.cleanup()) }()
	if b.tmp, err = os.MkdirTemp("", "nscompare-"); err != nil {
		return err
	}
	if b.cmds, err = newRunner(b.tmp); err != nil {
		return err
	}
	defer b.cmds.stderr.Close()
	if b.pool, err = newPool(); err != nil {
		return err
	}
	header := describeHost()
	start := time.Now()
	for _, g := range []struct {
		name string
		run  func(context.Context) error
	}{{"create", b.runCreate}, {"do", b.runDo}, {"parallel", b.runParallel}, {"cmd", b.runCmd}, {"lan", b.runLAN}} {
		if b.want(g.name) {
			if err := g.run(ctx); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(out, "%s · %d rounds (LAN: %d) · took %v\n\n", header, c.rounds, c.lanRounds, time.Since(start).Round(time.Second))
	fmt.Fprintln(out, "Medians and p90s of interleaved rounds (every contender once per round, in a random order). × ref: time ratio to the row's first contender (lower is better); in the throughput row, throughput ratio (higher is better), and p90 is the throughput of the slow rounds. The rows with idle processes ran in blocks, the process counts in turn (in the order given, then reversed, and so on).")
	fmt.Fprintln(out)
	b.res.writeTable(out)
	fmt.Fprintln(out)
	writeTargets(out, b.targets())
	if b.want("lan") {
		fmt.Fprintf(out, "\nThe LAN against its floor (the same kernel calls, through fixture's test-only AddVeth): go test -run '^$' -bench BuildTeardown -benchtime 20x ./fixture (from the repository root).\n")
	}
	return nil
}

// targets are issue 10's goals, as ratios of medians.
func (b *bench) targets() []target {
	r := b.res
	base := fmt.Sprintf("create/%d", b.c.procs[0])
	var ts []target
	add := func(label string, atMost bool, limit float64, v float64, ok bool, note string) {
		ts = append(ts, target{label: label, value: v, ok: ok, atMost: atMost, limit: limit, note: note})
	}
	v, ok := r.ratio(base, cNsrun, base, cVish)
	add("New + Delete ≤ 1.0x vishvananda/netns", true, 1.0, v, ok, "")
	v, ok = r.ratio(base, cNsrun, base, cRaw)
	add("New + Delete ≤ 1.3x raw syscalls", true, 1.3, v, ok, "")
	for _, n := range b.c.procs[1:] {
		id := fmt.Sprintf("create/%d", n)
		v, ok := r.ratio(id, cNsrun, base, cNsrun)
		raw, _ := r.ratio(id, cRaw, base, cRaw)
		add(fmt.Sprintf("New + Delete with %d idle processes ≤ 1.1x with %d", n, b.c.procs[0]), true, 1.1, v, ok, fmt.Sprintf("(raw syscalls: %.2fx)", raw))
	}
	v, ok = r.ratio("parallel", cRaw, "parallel", cNsrun)
	add(fmt.Sprintf("%d workers: throughput ≥ 0.8x raw syscalls", b.c.workers), false, 0.8, v, ok, "")
	v, ok = r.ratio("do", dNsrun, "do", dVish)
	add("Do ≤ 1.0x vishvananda/netns Get/Set/Set", true, 1.0, v, ok, "")
	v, ok = r.ratio("do", dNsrun, "do", dSetns)
	add("Do ≤ 2x two setns", true, 2.0, v, ok, "")
	for _, x := range []struct{ c, label string }{{xStatic, "CGO_ENABLED=0"}, {xCgo, "default build"}} {
		v, ok = r.ratio("cmd", x.c, "cmd", xUnshare)
		add(fmt.Sprintf("`nsrun -- true` (%s) ≤ 1.5x `unshare -n true`", x.label), true, 1.5, v, ok, "")
		v, ok = r.ratio("cmd", xIP, "cmd", x.c)
		add(fmt.Sprintf("`nsrun -- true` (%s) ≥ 3x faster than the ip sequence", x.label), false, 3, v, ok, "")
	}
	if f, ok := r.ratio("cmd", xGoFloor, "cmd", xUnshare); ok {
		v, ok = r.ratio("cmd", xStatic, "cmd", xGoFloor)
		ts = append(ts, target{label: "`nsrun -- true` (CGO_ENABLED=0) against the Go floor", value: v, ok: ok, info: true,
			note: fmt.Sprintf("(the Go floor itself: %.2fx `unshare -n true`)", f)})
	}
	v, ok = r.ratio("lan", lScript, "lan", lFixture)
	add(fmt.Sprintf("fixture LAN%d ≥ 5x faster than the ip script", b.c.lanHosts), false, 5, v, ok, "")
	return ts
}

// describeHost returns the header line: date, kernel, CPUs, Go, processes.
func describeHost() string {
	var u unix.Utsname
	unix.Uname(&u)
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = " (" + strings.TrimSpace(v) + ")"
				break
			}
		}
	}
	procs := 0
	for _, n := range dirNames("/proc") {
		if n[0] >= '0' && n[0] <= '9' {
			procs++
		}
	}
	load := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			load = " · load " + strings.Join(f[:3], " ")
		}
	}
	return fmt.Sprintf("nscompare %s · Linux %s · %d CPUs%s · %s · %d processes on the host at start%s",
		time.Now().Format("2006-01-02 15:04 MST"), unix.ByteSliceToString(u.Release[:]), runtime.NumCPU(), model, runtime.Version(), procs, load)
}
