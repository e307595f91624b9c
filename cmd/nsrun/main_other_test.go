//go:build !linux

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRunNeedsLinux(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"--help"}, strings.NewReader(""), &stdout, &stderr)
	assert.Equal(t, 125, code)
	assert.Empty(t, stdout.String())
	assert.Equal(t, "nsrun: needs Linux (network namespaces)\n", stderr.String())
}
