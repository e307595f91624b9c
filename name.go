package nsrun

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/uuid"
)

// MaxNameLen is the longest namespace name accepted: NAME_MAX (the limit
// `ip netns add` enforces) less room for the owner record's ".json".
const MaxNameLen = 250

// DefaultPrefix starts the names New makes when no name is given.
const DefaultPrefix = "nsrun-"

// ValidateName reports whether name can be a named network namespace. The
// rules are iproute2's: not empty, no '/', not "." or "..", no NUL byte, and
// at most MaxNameLen bytes.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("invalid namespace name: empty")
	case name == "." || name == "..":
		return fmt.Errorf("invalid namespace name %q: reserved", name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("invalid namespace name %q: contains '/' or NUL", name)
	case len(name) > MaxNameLen:
		return fmt.Errorf("invalid namespace name %.20q...: %d bytes, at most %d", name, len(name), MaxNameLen)
	}
	return nil
}

// RandomName returns prefix followed by 12 random hex digits, the names New
// makes when WithName is not given; for callers that need the name before
// the namespace exists. It does not check that the name is free.
func RandomName(prefix string) string {
	u := uuid.New()
	return prefix + hex.EncodeToString(u[:6])
}
