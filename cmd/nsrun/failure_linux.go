package main

import (
	"fmt"
	"sort"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/netdump"
	"github.com/nsrun/nsrun/internal/pause"
)

// failed runs when the command failed (a non-zero exit), before the
// session is torn down: with -v it prints the state of every namespace of
// the session on stderr, with --json it puts that state in the summary,
// and with --pause-on-failure it waits at the terminal.
func (a *app) failed(o *runOpts, s *session, sum *summary) {
	if !a.verbose && o.jsonFile == "" && !o.pauseOnFailure {
		return
	}
	nodes := labelled(s)
	dumps := netdump.GatherAll(nodes)
	if o.jsonFile != "" {
		sum.FailureState = dumps
	}
	if a.verbose {
		a.mu.Lock()
		fmt.Fprintf(a.stderr, "nsrun: the command failed; the %s at that point:\n", s.what)
		if s.graph != nil {
			if g, err := s.graph("mermaid"); err == nil {
				fmt.Fprintf(a.stderr, "diagram (Mermaid, live state):\n%s", g)
			}
		}
		for _, d := range dumps {
			_, _ = d.WriteTo(a.stderr)
		}
		a.mu.Unlock()
	}
	if !o.pauseOnFailure {
		return
	}
	labels := make([]string, 0, len(nodes))
	for l := range nodes {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	var lines []string
	for _, l := range labels {
		lines = append(lines, fmt.Sprintf("%-10s %s", l, pause.EnterLine(nodes[l].Name())))
	}
	if err := pause.Wait("the command failed; "+s.what+" kept", lines); err != nil {
		a.mu.Lock()
		fmt.Fprintf(a.stderr, "nsrun: --pause-on-failure: no pause: %v\n", err)
		a.mu.Unlock()
	}
}

// labelled maps each namespace of s to its label: the node's name in a
// topology, else the namespace's own name.
func labelled(s *session) map[string]*nsrun.Namespace {
	nodes := map[string]*nsrun.Namespace{}
	for node, ns := range s.nodes {
		if node == "" {
			node = ns.Name()
		}
		nodes[node] = ns
	}
	return nodes
}
