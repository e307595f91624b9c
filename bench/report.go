package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
)

// results holds the samples of every group of contenders, in the order the
// groups were made. The first series of a group is its reference: the
// floor, or what the others are compared with.
type results struct {
	groups []*group
	byID   map[string]*group
}

// group is one row of the comparison: contenders doing the same thing,
// measured in the same interleaved rounds.
type group struct {
	id, title string
	// opsPerSample > 0 makes a throughput group: each sample is the wall
	// time of that many operations, shown as operations per second.
	opsPerSample int
	series       []*series
}

type series struct {
	name    string
	samples []time.Duration
}

func newResults() *results { return &results{byID: map[string]*group{}} }

// group returns the group id, making it (with these contenders, the first
// the reference) on first use.
func (r *results) group(id, title string, opsPerSample int, names ...string) *group {
	if g := r.byID[id]; g != nil {
		return g
	}
	g := &group{id: id, title: title, opsPerSample: opsPerSample}
	for _, n := range names {
		g.series = append(g.series, &series{name: n})
	}
	r.groups = append(r.groups, g)
	r.byID[id] = g
	return g
}

func (g *group) add(name string, d time.Duration) {
	for _, s := range g.series {
		if s.name == name {
			s.samples = append(s.samples, d)
			return
		}
	}
	panic("nscompare: no contender " + name + " in " + g.id)
}

// median returns the median sample of contender name in group id.
func (r *results) median(id, name string) (time.Duration, bool) {
	g := r.byID[id]
	if g == nil {
		return 0, false
	}
	for _, s := range g.series {
		if s.name == name && len(s.samples) > 0 {
			return quantile(s.samples, 0.5), true
		}
	}
	return 0, false
}

// ratio returns median(a in group ga) / median(b in group gb).
func (r *results) ratio(ga, a, gb, b string) (float64, bool) {
	x, ok1 := r.median(ga, a)
	y, ok2 := r.median(gb, b)
	if !ok1 || !ok2 || y == 0 {
		return 0, false
	}
	return float64(x) / float64(y), true
}

// quantile returns the q-quantile of d (0.5: the median, the mean of the
// two middle samples for an even count; otherwise the nearest rank).
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	n := len(s)
	if q == 0.5 {
		return (s[(n-1)/2] + s[n/2]) / 2
	}
	i := int(q*float64(n)+0.999999) - 1 // nearest rank
	return s[min(max(i, 0), n-1)]
}

// fmtDur formats d with three significant digits or so, in ms from 0.1 ms up.
func fmtDur(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	us := float64(d) / float64(time.Microsecond)
	switch {
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f ms", ms)
	case ms >= 0.1:
		return fmt.Sprintf("%.2f ms", ms)
	case us >= 10:
		return fmt.Sprintf("%.1f µs", us)
	default:
		return fmt.Sprintf("%.2f µs", us)
	}
}

func fmtRate(ops int, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f /s", float64(ops)/d.Seconds())
}

// writeTable prints every group as rows of a Markdown table: median, p90,
// and the ratio to the group's reference.
func (r *results) writeTable(w io.Writer) {
	fmt.Fprintln(w, "| operation | contender | median | p90 | × ref |")
	fmt.Fprintln(w, "|---|---|---|---|---|")
	for _, g := range r.groups {
		if len(g.series) == 0 || len(g.series[0].samples) == 0 {
			continue
		}
		ref := quantile(g.series[0].samples, 0.5)
		for i, s := range g.series {
			if len(s.samples) == 0 {
				continue
			}
			op := ""
			if i == 0 {
				op = g.title
			}
			med, p90 := quantile(s.samples, 0.5), quantile(s.samples, 0.9)
			var ms, ps, x string
			if g.opsPerSample > 0 {
				ms, ps = fmtRate(g.opsPerSample, med), fmtRate(g.opsPerSample, p90)
				x = fmt.Sprintf("%.2f", float64(ref)/float64(med)) // throughput ratio
			} else {
				ms, ps = fmtDur(med), fmtDur(p90)
				x = fmt.Sprintf("%.2f", float64(med)/float64(ref))
			}
			name := s.name
			if i == 0 {
				name += " (ref)"
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", op, name, ms, ps, x)
		}
	}
}

// target is one of issue 10's goals: value (a ratio of medians) at most or
// at least limit.
type target struct {
	label  string
	value  float64
	ok     bool // value was measured
	atMost bool
	limit  float64
	note   string
	info   bool // not a target: a figure shown beside them, with no verdict
}

func (t target) met() bool {
	if t.atMost {
		return t.value <= t.limit
	}
	return t.value >= t.limit
}

func writeTargets(w io.Writer, ts []target) {
	fmt.Fprintln(w, "| target | measured | met? |")
	fmt.Fprintln(w, "|---|---|---|")
	for _, t := range ts {
		if !t.ok {
			continue
		}
		met := "no"
		switch {
		case t.info:
			met = "(no target)"
		case t.met():
			met = "yes"
		}
		m := fmt.Sprintf("%.2fx", t.value)
		if t.note != "" {
			m += " " + t.note
		}
		fmt.Fprintf(w, "| %s | %s | %s |\n", t.label, m, met)
	}
}

// parseInts parses a comma-separated list of non-negative integers.
func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad number %q", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list %q", s)
	}
	return out, nil
}
