package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/fixture"
	"github.com/nsrun/nsrun/internal/owner"
	"github.com/nsrun/nsrun/internal/reexec"
)

// newTopology builds the --topology session: the command runs in --node
// (default: the first node), with NSRUN_* variables describing them all.
func (a *app) newTopology(ctx context.Context, o *runOpts) (*session, error) {
	spec, f, err := a.buildTopology(ctx, o.topology)
	if err != nil {
		return nil, err
	}
	node := o.nodeName
	if node == "" {
		node = f.Nodes()[0]
	}
	ns, err := f.Namespace(node) // the error lists the nodes there are
	if err != nil {
		return nil, errors.Join(err, f.Close())
	}
	s := &session{
		ns: ns, nodes: map[string]*nsrun.Namespace{}, hostname: nodeHostname(spec, node),
		env:  setenv(o.env, "NSRUN_NETNS", ns.Name()),
		what: "topology " + f.Name(), downName: f.Name(), teardown: f.Close,
		keep:  func() error { return errors.Join(f.Keep(), f.Close()) },
		graph: f.Graph,
	}
	for _, kv := range f.Env() {
		k, v, _ := strings.Cut(kv, "=")
		s.env = setenv(s.env, k, v)
	}
	for _, n := range f.Nodes() {
		s.nodes[n], _ = f.Namespace(n) // n is one of f's nodes
	}
	return s, nil
}

// buildTopology loads and builds the topology in file.
func (a *app) buildTopology(ctx context.Context, file string) (*fixture.Spec, *fixture.Fixture, error) {
	spec, err := fixture.Load(file)
	if err != nil {
		return nil, nil, err
	}
	f, err := a.build(ctx, spec)
	return spec, f, err
}

// build builds the topology spec describes.
func (a *app) build(ctx context.Context, spec *fixture.Spec) (*fixture.Fixture, error) {
	f, err := fixture.New(ctx, spec)
	if err != nil {
		return nil, err
	}
	for _, n := range f.Nodes() {
		ns, _ := f.Namespace(n)
		a.logf("created node %s of topology %s: namespace %s", n, f.Name(), ns.Name())
	}
	return f, nil
}

// nodeHostname is the host name the spec gives node (default its name).
func nodeHostname(spec *fixture.Spec, node string) string {
	for _, n := range spec.Nodes {
		if strings.EqualFold(n.Name, node) {
			if n.Hostname != "" {
				return n.Hostname
			}
			return n.Name
		}
	}
	return ""
}

// upCmd is nsrun up FILE: build the topology and leave it up. Its NSRUN_*
// variables go to stdout (KEY=VALUE lines, for $GITHUB_ENV or eval), the
// how-to to stderr. Without root it starts a holder (see held_linux.go).
func (a *app) upCmd(ctx context.Context, args []string) int {
	fs := flagSet("nsrun up")
	fs.BoolVar(&a.verbose, "v", false, "say what is created")
	if code, done := a.parse(fs, args, upUsage); done {
		return code
	}
	if fs.NArg() != 1 {
		return a.fail(usageError{"need exactly one topology file", "nsrun up"})
	}
	file := fs.Arg(0)
	spec, err := fixture.Load(file)
	if err != nil {
		return a.fail(err)
	}
	holdDir := os.Getenv(holdEnv) // set for the holder by the nsrun up that starts it
	if holdDir == "" && (rootless() || relayed(spec)) {
		return a.upHeld(args)
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	var claim *heldRun
	if holdDir != "" {
		abs, err := filepath.Abs(file)
		if err != nil {
			return a.fail(err)
		}
		file = abs
		_ = os.Chdir("/") // the holder stays: it must not keep a directory busy
		// The name first: a topology already up is refused before a
		// second one is built.
		if claim, err = claimHeld(holdDir, topologyName(spec), file); err != nil {
			return a.fail(err)
		}
	}
	a.sweep()
	f, err := a.build(ctx, spec)
	if err != nil {
		if claim != nil {
			_ = claim.remove(holdDir)
		}
		return a.fail(err)
	}
	if claim != nil {
		return a.holdUp(claim, holdDir, f, relayed(spec))
	}
	if err := errors.Join(f.Keep(), f.Close()); err != nil {
		return a.fail(err)
	}
	env := f.Env()
	for _, kv := range env {
		fmt.Fprintln(a.stdout, kv)
	}
	fmt.Fprintf(a.stderr, "nsrun: topology %s is up (nodes: %s)\n", f.Name(), strings.Join(f.Nodes(), ", "))
	first, _ := f.Namespace(f.Nodes()[0])
	fmt.Fprintf(a.stderr, "  enter:  sudo nsrun exec %s -- $SHELL   (each node's namespace is in NSRUN_NS_<NODE>)\n", first.Name())
	fmt.Fprintf(a.stderr, "  remove: sudo nsrun down %s\n", f.Name())
	return 0
}

// holdUp is nsrun up in the holder, which has claimed the topology's name
// in dir: it keeps f up while it serves. A topology with emulated links
// (live) stays open, its relays running in this process, and goes with it;
// any other is kept (as nsrun up as root keeps it) and removed by down.
func (a *app) holdUp(claim *heldRun, dir string, f *fixture.Fixture, live bool) int {
	if reexec.InRootless() {
		a.allowPing(&session{nodes: nodesOf(f)}, &account{nested: true})
	}
	var err error
	teardown := f.Close
	if !live {
		err = errors.Join(f.Keep(), f.Close())
		teardown = func() error { return down(claim.Name) }
	}
	if err != nil {
		_ = claim.remove(dir)
		return a.fail(errors.Join(err, f.Close()))
	}
	return a.hold(claim, dir, f, f.Env(), teardown, live)
}

// relayed reports whether the topology spec describes has (or may have,
// with emulate: auto) emulated links, whose relays run in the process that
// built it: nsrun up then leaves a holder process to run them.
func relayed(spec *fixture.Spec) bool {
	if spec.Emulate == "all" || spec.Emulate == "auto" {
		return true
	}
	for _, l := range spec.Links {
		if l.Emulated {
			return true
		}
	}
	for _, b := range spec.Bridges {
		if b.Emulated {
			return true
		}
	}
	return false
}

// topologyName is the name of the topology spec describes: Spec.Name,
// whose documented default is "fx".
func topologyName(spec *fixture.Spec) string {
	if spec.Name == "" {
		return "fx"
	}
	return spec.Name
}

// nodesOf maps f's nodes to their namespaces.
func nodesOf(f *fixture.Fixture) map[string]*nsrun.Namespace {
	nodes := map[string]*nsrun.Namespace{}
	for _, n := range f.Nodes() {
		nodes[n], _ = f.Namespace(n) // n is one of f's nodes
	}
	return nodes
}

// downCmd is nsrun down NAME...: a kept topology, or a namespace kept by
// nsrun --keep.
func (a *app) downCmd(_ context.Context, args []string) int {
	fs := flagSet("nsrun down")
	fs.BoolVar(&a.verbose, "v", false, "say what is removed")
	if code, done := a.parse(fs, args, downUsage); done {
		return code
	}
	if fs.NArg() == 0 {
		return a.fail(usageError{"no name given", "nsrun down"})
	}
	if rootless() {
		return a.downRootless(fs.Args())
	}
	code := 0
	for _, name := range fs.Args() {
		err := down(name)
		if errors.Is(err, errNothingKept) {
			// A topology with emulated links is held by a process of its own.
			if dir, r, ferr := findHeld(name, true); ferr == nil {
				if c := a.downHeld(dir, r); c != 0 {
					code = c
				}
				continue
			}
		}
		if err != nil {
			code = a.fail(err)
			continue
		}
		a.logf("removed %s", name)
	}
	return code
}

// errNothingKept says that no topology or namespace of that name was kept.
var errNothingKept = errors.New("nothing of that name was kept")

// down removes one namespace kept by nsrun --keep, or else a topology kept
// by nsrun up or nsrun --keep --topology.
func down(name string) error {
	err := fixture.Down(name)
	if !errors.Is(err, os.ErrNotExist) {
		return err // a kept topology, removed (or not)
	}
	if r, rerr := owner.Read(name); rerr == nil && r.Kept {
		return nsrun.DeleteNamed(name)
	}
	return fmt.Errorf("remove %s: %w (nsrun ls lists namespaces)", name, errNothingKept)
}
