package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	for _, c := range []struct {
		in       []time.Duration
		q        float64
		want     time.Duration
		describe string
	}{
		{ms(3, 1, 2), 0.5, 2 * time.Millisecond, "odd median"},
		{ms(4, 1, 3, 2), 0.5, 2500 * time.Microsecond, "even median: mean of the middle two"},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.9, 9 * time.Millisecond, "p90, nearest rank"},
		{ms(5), 0.9, 5 * time.Millisecond, "one sample"},
		{nil, 0.5, 0, "none"},
	} {
		if got := quantile(c.in, c.q); got != c.want {
			t.Errorf("%s: quantile(%v, %v) = %v, want %v", c.describe, c.in, c.q, got, c.want)
		}
	}
}

func TestTable(t *testing.T) {
	r := newResults()
	g := r.group("create/0", "create", 0, "floor", "ours")
	for i := range 3 {
		g.add("floor", time.Duration(100+i)*time.Microsecond)
		g.add("ours", time.Duration(150+i)*time.Microsecond)
	}
	p := r.group("parallel", "par", 10, "floor", "ours")
	p.add("floor", 10*time.Millisecond)
	p.add("ours", 20*time.Millisecond)
	var b bytes.Buffer
	r.writeTable(&b)
	for _, want := range []string{
		"| create | floor (ref) | 0.10 ms | 0.10 ms | 1.00 |",
		"|  | ours | 0.15 ms | 0.15 ms | 1.50 |",
		"| par | floor (ref) | 1000 /s | 1000 /s | 1.00 |",
		"|  | ours | 500 /s | 500 /s | 0.50 |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
	v, ok := r.ratio("create/0", "ours", "create/0", "floor")
	if !ok || v < 1.49 || v > 1.51 {
		t.Errorf("ratio = %v, %v; want 1.5", v, ok)
	}
	b.Reset()
	writeTargets(&b, []target{
		{label: "a", value: v, ok: true, atMost: true, limit: 1.3},
		{label: "b", value: 2, ok: true, limit: 1.5},
		{label: "c"},
		{label: "d", value: 3, ok: true, info: true, note: "(why)"},
	})
	if s := b.String(); !strings.Contains(s, "| a | 1.50x | no |") || !strings.Contains(s, "| b | 2.00x | yes |") || strings.Contains(s, "| c |") ||
		!strings.Contains(s, "| d | 3.00x (why) | (no target) |") {
		t.Errorf("targets:\n%s", s)
	}
}

func TestParseInts(t *testing.T) {
	if got, err := parseInts("0, 300,3000"); err != nil || len(got) != 3 || got[2] != 3000 {
		t.Errorf("parseInts = %v, %v", got, err)
	}
	for _, bad := range []string{"", "3x", "-1", ","} {
		if _, err := parseInts(bad); err == nil {
			t.Errorf("parseInts(%q): no error", bad)
		}
	}
}
