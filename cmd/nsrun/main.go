// Command nsrun runs a command in a throwaway network namespace (or a whole
// topology of them), then removes everything. It needs Linux (elsewhere it
// says so and exits with 125). Run `nsrun --help`.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
