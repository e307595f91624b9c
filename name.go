package nsrun

import (
	"fmt"
	"strings"

	"github.com/nsrun/nsrun/internal/paths"
)

// maxNameLen is the longest namespace name accepted: NAME_MAX (the limit
// `ip netns add` enforces) less room for the owner record's ".json".
const maxNameLen = 250

// ValidateName reports whether name can be a named network namespace; the
// error matches ErrInvalid. The rules are iproute2's: not empty, no '/',
// not "." or "..", no NUL byte, and at most 250 bytes (NAME_MAX less room
// for the owner record's ".json").
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("namespace name: empty: %w", ErrInvalid)
	case name == "." || name == "..":
		return fmt.Errorf("namespace name %q: reserved: %w", name, ErrInvalid)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("namespace name %q: contains '/' or NUL: %w", name, ErrInvalid)
	case len(name) > maxNameLen:
		return fmt.Errorf("namespace name %.20q...: %d bytes, at most %d: %w", name, len(name), maxNameLen, ErrInvalid)
	}
	return nil
}

// Dir returns the directory that holds named network namespaces, the one
// `ip netns` lists: /run/netns on most systems (or the value of the
// environment variable NSRUN_NETNS_DIR, for private setups).
func Dir() string { return paths.Netns() }
