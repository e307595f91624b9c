package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/netdump"
	"github.com/nsrun/nsrun/runner"
	"github.com/vishvananda/netlink"
)

// summary is the --json report of a run, for CI.
type summary struct {
	Command    []string    `json:"command"`
	Namespaces []nsSummary `json:"namespaces"`
	ExitCode   int         `json:"exit_code"`
	Status     string      `json:"status,omitempty"`
	TimedOut   bool        `json:"timed_out"`
	Kept       bool        `json:"kept"`
	Error      string      `json:"error,omitempty"`
	Started    time.Time   `json:"started"`
	Durations  durations   `json:"durations_ms"`
	// The state of every namespace when the command failed (non-zero).
	FailureState []netdump.Dump `json:"failure_state,omitempty"`

	setupEnd, runEnd time.Time
	evidence         evidence // for the step summary of a failed run (stepsummary_linux.go)
}

// durations are the phases of a run, in milliseconds.
type durations struct {
	Setup    float64 `json:"setup"`
	Run      float64 `json:"run"`
	Teardown float64 `json:"teardown"`
	Total    float64 `json:"total"`
}

// nsSummary describes one namespace: its node (with a topology) and the
// addresses of each link, as they were when the command started.
type nsSummary struct {
	Name      string              `json:"name"`
	Node      string              `json:"node,omitempty"`
	Addresses map[string][]string `json:"addresses"`
}

// newSummary starts the clock.
func newSummary(argv []string) *summary {
	return &summary{Command: argv, Started: time.Now(), Namespaces: []nsSummary{}}
}

// setupDone records the end of setup and, if describe, the namespaces made.
func (s *summary) setupDone(sess *session, describe bool) {
	s.setupEnd = time.Now()
	if sess == nil || !describe {
		return
	}
	for node, ns := range sess.nodes {
		s.Namespaces = append(s.Namespaces, nsSummary{Name: ns.Name(), Node: node, Addresses: addresses(ns)})
	}
	sort.Slice(s.Namespaces, func(i, j int) bool { return s.Namespaces[i].Name < s.Namespaces[j].Name })
}

// ran records how the command ended.
func (s *summary) ran(st runner.Status, err error) {
	s.runEnd = time.Now()
	s.Status, s.TimedOut = st.String(), st.TimedOut
	if err != nil {
		s.Status, s.Error = "", err.Error()
	}
}

// finish fills in the exit code and durations.
func (s *summary) finish(code int, kept bool) {
	end := time.Now()
	if s.runEnd.IsZero() {
		s.runEnd = s.setupEnd
	}
	ms := func(a, b time.Time) float64 { return float64(b.Sub(a).Microseconds()) / 1000 }
	s.ExitCode, s.Kept = code, kept
	s.Durations = durations{
		Setup: ms(s.Started, s.setupEnd), Run: ms(s.setupEnd, s.runEnd),
		Teardown: ms(s.runEnd, end), Total: ms(s.Started, end),
	}
}

// write saves the summary to path.
func (s *summary) write(path string) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode summary: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write summary: %w", err)
	}
	return nil
}

// addresses lists each link's addresses in ns; errors leave it empty, a
// summary is no reason to fail a run.
func addresses(ns *nsrun.Namespace) map[string][]string {
	out := map[string][]string{}
	h, err := ns.Netlink()
	if err != nil {
		return out
	}
	links, err := h.LinkList()
	if err != nil {
		return out
	}
	for _, l := range links {
		addrs, err := h.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			continue
		}
		list := []string{}
		for _, ad := range addrs {
			list = append(list, ad.IPNet.String())
		}
		out[l.Attrs().Name] = list
	}
	return out
}
