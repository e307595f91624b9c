package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestRunArguments drives run in-process for what needs no namespace.
func TestRunArguments(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{[]string{"--help"}, 0, "Usage:\n  nsrun [flags] [--] COMMAND", ""},
		{[]string{"help", "gc"}, 0, "nsrun gc [--dry-run]", ""},
		{[]string{}, 125, "", "nsrun: no command given (see nsrun --help)\n"},
		{[]string{"--timeout"}, 125, "", "nsrun: flag needs an argument: -timeout (see nsrun --help)\n"},
		{[]string{"--grace", "-1s", "true"}, 125, "", "nsrun: --timeout and --grace must not be negative"},
		{[]string{"exec", "onlyname"}, 125, "", "nsrun: usage: nsrun exec NAME"},
		{[]string{"up"}, 125, "", "nsrun: need exactly one topology file (see nsrun up --help)\n"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr)
		assert.Equal(t, tc.code, code, "%v: %s", tc.args, stderr.String())
		assert.Contains(t, stdout.String(), tc.stdout, "%v", tc.args)
		assert.Contains(t, stderr.String(), tc.stderr, "%v", tc.args)
	}
}
