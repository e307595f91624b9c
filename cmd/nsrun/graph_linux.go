package main

import (
	"context"
	"fmt"

	"github.com/nsrun/nsrun/fixture"
)

const graphUsage = `
nsrun graph prints the topology in FILE (YAML or JSON, as nsrun --topology
reads it) as a diagram: Graphviz DOT by default, or a Mermaid flowchart,
which GitHub renders in Markdown. Nodes are the namespaces (routers marked),
bridges are nodes of their own, and each link is labelled with the
interface and addresses of each end, automatic ones included. It checks the
file as nsrun --topology does, but builds nothing and needs no root. A
file that does not load is an error, on one line, with exit status 125.

Usage:
  nsrun graph [--format dot|mermaid] FILE

Examples:
  nsrun graph examples/routed.yaml | dot -Tpng -o routed.png
  nsrun graph --format mermaid examples/lan.yaml
  { echo '` + "```mermaid" + `'; nsrun graph --format mermaid lab.yaml; echo '` + "```" + `'; } >> "$GITHUB_STEP_SUMMARY"
`

// graphCmd is nsrun graph [--format dot|mermaid] FILE: draw a topology file.
func (a *app) graphCmd(_ context.Context, args []string) int {
	fs := flagSet("nsrun graph")
	format := fs.String("format", "dot", "diagram `format`: dot (Graphviz) or mermaid")
	if code, done := a.parse(fs, args, graphUsage); done {
		return code
	}
	switch {
	case fs.NArg() != 1:
		return a.fail(usageError{"need exactly one topology file", "nsrun graph"})
	case *format != "dot" && *format != "mermaid":
		return a.fail(usageError{fmt.Sprintf("unknown --format %q (want dot or mermaid)", *format), "nsrun graph"})
	}
	spec, err := fixture.Load(fs.Arg(0))
	if err != nil {
		return a.fail(err)
	}
	out, err := spec.Graph(*format)
	if err != nil {
		return a.fail(err)
	}
	if _, err := a.stdout.Write(out); err != nil {
		return a.fail(fmt.Errorf("write graph: %w", err))
	}
	return 0
}
