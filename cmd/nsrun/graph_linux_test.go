package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nsrun/nsrun/fixture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGraphCommand drives nsrun graph in-process: it builds nothing and
// needs no privilege.
func TestGraphCommand(t *testing.T) {
	nsrun := func(args ...string) (code int, stdout, stderr string) {
		var out, errs bytes.Buffer
		code = run(context.Background(), args, strings.NewReader(""), &out, &errs)
		return code, out.String(), errs.String()
	}
	file := filepath.Join("..", "..", "examples", "routed.yaml")
	spec, err := fixture.Load(file)
	require.NoError(t, err)
	for _, tc := range []struct {
		args   []string
		format string
	}{
		{[]string{"graph", file}, "dot"},
		{[]string{"graph", "--format", "dot", file}, "dot"},
		{[]string{"graph", "--format=mermaid", file}, "mermaid"},
	} {
		want, err := spec.Graph(tc.format)
		require.NoError(t, err)
		code, out, errs := nsrun(tc.args...)
		assert.Equal(t, 0, code, "%v: %s", tc.args, errs)
		assert.Empty(t, errs, "%v", tc.args)
		assert.Equal(t, string(want), out, "%v", tc.args)
	}

	for _, args := range [][]string{{"graph", "--help"}, {"graph", "-h"}, {"help", "graph"}} {
		code, out, errs := nsrun(args...)
		assert.Equal(t, 0, code, "%v", args)
		assert.Empty(t, errs, "%v", args)
		assert.True(t, strings.HasPrefix(out, "nsrun graph prints the topology in FILE"), "%v: %s", args, out)
		assert.Contains(t, out, "Usage:\n  nsrun graph [--format dot|mermaid] FILE\n", "%v", args)
		assert.Contains(t, out, "Examples:\n  nsrun graph examples/routed.yaml | dot -Tpng -o routed.png\n", "%v", args)
		assert.Contains(t, out, "Flags:\n  -format format\n", "%v", args)
	}
	code, out, _ := nsrun("--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "  nsrun graph [--format mermaid] FILE ", "the overview lists it")

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("nodes: [{name: a}, {name: b}]\nlinks: [{a: a, b: c}, {a: a, b: a}]\n"), 0o644))
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"graph", bad}, "nsrun: load " + bad + `: links[0].b: unknown node "c"; links[1]: link from node "a" to itself` + "\n"},
		{[]string{"graph", filepath.Join(t.TempDir(), "none.yaml")}, "nsrun: read topology: open "},
		{[]string{"graph"}, "nsrun: need exactly one topology file (see nsrun graph --help)\n"},
		{[]string{"graph", file, file}, "nsrun: need exactly one topology file (see nsrun graph --help)\n"},
		{[]string{"graph", "--format", "png", file}, `nsrun: unknown --format "png" (want dot or mermaid) (see nsrun graph --help)` + "\n"},
		{[]string{"graph", "--bogus", file}, "nsrun: flag provided but not defined: -bogus (see nsrun graph --help)\n"},
	} {
		code, out, errs := nsrun(tc.args...)
		assert.Equal(t, 125, code, "%v", tc.args)
		assert.Empty(t, out, "%v", tc.args)
		assert.True(t, strings.HasPrefix(errs, tc.stderr), "%v: %q", tc.args, errs)
		assert.Equal(t, 1, strings.Count(errs, "\n"), "%v: one line: %q", tc.args, errs)
	}
}
