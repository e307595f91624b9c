//go:build !linux

package main

import (
	"context"
	"fmt"
	"io"

	"github.com/nsrun/nsrun/internal/reexec"
)

// run refuses to do anything off Linux: nsrun needs network namespaces.
func run(_ context.Context, _ []string, _ io.Reader, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "nsrun: needs Linux (network namespaces)")
	return reexec.CodeFailed
}
