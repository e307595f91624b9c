//go:build !linux

package testenv

// SetRootless does nothing off Linux, where there is no rootless mode.
func SetRootless(error) {}

// advice says how to get the privilege.
func advice() string { return "run as root, or `go test -exec sudo`" }

// realRoot is never reached off Linux: RequirePrivilege ends the test first.
func realRoot() error { return nil }
