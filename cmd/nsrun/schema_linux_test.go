package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/nsrun/nsrun/fixture"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSchemaCommand drives nsrun schema in-process: it needs no privilege.
func TestSchemaCommand(t *testing.T) {
	nsrun := func(args ...string) (code int, stdout, stderr string) {
		var out, errs bytes.Buffer
		code = run(context.Background(), args, strings.NewReader(""), &out, &errs)
		return code, out.String(), errs.String()
	}

	code, out, errs := nsrun("schema")
	require.Equal(t, 0, code, errs)
	assert.Empty(t, errs)
	assert.Equal(t, string(fixture.Schema()), out)
	var doc struct {
		Schema string         `json:"$schema"`
		Defs   map[string]any `json:"$defs"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &doc))
	assert.Contains(t, doc.Schema, "2020-12")
	assert.Contains(t, doc.Defs, "node")

	for _, args := range [][]string{{"schema", "--help"}, {"schema", "-h"}, {"help", "schema"}} {
		code, out, errs := nsrun(args...)
		assert.Equal(t, 0, code, "%v", args)
		assert.Empty(t, errs, "%v", args)
		assert.True(t, strings.HasPrefix(out, "nsrun schema prints the JSON Schema"), "%v: %s", args, out)
		assert.Contains(t, out, "Usage:\n  nsrun schema\n", "%v", args)
		assert.Contains(t, out, "Examples:\n  nsrun schema > topology.schema.json\n", "%v", args)
		assert.NotContains(t, out, "Flags:", "%v: no flags to list", args)
	}

	code, out, errs = nsrun("schema", "extra")
	assert.Equal(t, 125, code)
	assert.Empty(t, out)
	assert.Equal(t, "nsrun: unexpected argument extra (see nsrun schema --help)\n", errs)
	code, _, errs = nsrun("schema", "--bogus")
	assert.Equal(t, 125, code)
	assert.Equal(t, "nsrun: flag provided but not defined: -bogus (see nsrun schema --help)\n", errs)

	code, out, _ = nsrun("--help")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "  nsrun schema ", "the overview lists it")
}
