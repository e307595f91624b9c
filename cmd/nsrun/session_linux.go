package main

import (
	"context"

	"github.com/nsrun/nsrun"
)

// session is what the payload runs in: one namespace, or the node of a
// topology, with how to tear it down or keep it.
type session struct {
	ns       *nsrun.Namespace // where the command runs
	nodes    map[string]*nsrun.Namespace
	env      []string
	hostname string // default host name of the command (a topology node's)
	what     string // for messages: "namespace X", "topology T"
	downName string // argument of nsrun down
	teardown func() error
	keep     func() error
	graph    func(format string) ([]byte, error) // with a topology: its live diagram
}

// newSession creates the namespace, or the topology with --topology.
func (a *app) newSession(ctx context.Context, o *runOpts) (*session, error) {
	if o.topology != "" {
		return a.newTopology(ctx, o)
	}
	var opts []nsrun.Option
	if o.name != "" {
		opts = append(opts, nsrun.WithName(o.name))
	}
	ns, err := nsrun.New(opts...)
	if err != nil {
		return nil, err // it names the namespace and what failed
	}
	a.logf("created namespace %s", ns.Name())
	return &session{
		ns:       ns,
		nodes:    map[string]*nsrun.Namespace{"": ns},
		env:      setenv(o.env, "NSRUN_NETNS", ns.Name()),
		what:     "namespace " + ns.Name(),
		downName: ns.Name(),
		teardown: ns.Delete,
		keep:     ns.Keep,
	}, nil
}
