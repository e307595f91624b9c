// Package gopkg is a small Go package whose tests expect to run in a
// throwaway network namespace: `sudo go test -exec nsrun ./examples/gopkg/`.
// Run without nsrun, they skip. The cmd/nsrun end-to-end tests use it.
package gopkg
