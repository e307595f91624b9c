package main

import (
	"context"
	"fmt"

	"github.com/nsrun/nsrun/fixture"
)

const schemaUsage = `
nsrun schema prints the JSON Schema (draft 2020-12) of topology files, the
YAML or JSON that nsrun --topology and nsrun up read, for editors and
validators. A topology file may name it in its $schema field, which nsrun
ignores.

Usage:
  nsrun schema

Examples:
  nsrun schema > topology.schema.json
  nsrun schema | jq '.["$defs"] | keys'
`

// schemaCmd is nsrun schema: print the topology file format's JSON Schema.
func (a *app) schemaCmd(_ context.Context, args []string) int {
	fs := flagSet("nsrun schema")
	if code, done := a.parse(fs, args, schemaUsage); done {
		return code
	}
	if fs.NArg() > 0 {
		return a.fail(usageError{"unexpected argument " + fs.Arg(0), "nsrun schema"})
	}
	if _, err := a.stdout.Write(fixture.Schema()); err != nil {
		return a.fail(fmt.Errorf("write schema: %w", err))
	}
	return 0
}
