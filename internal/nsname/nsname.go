// Package nsname makes the random namespace names nsrun uses when none is
// given, for the core and for callers (nsrun's early reaper) that need the
// name before the namespace exists.
package nsname

import (
	"encoding/hex"

	"github.com/google/uuid"
)

// DefaultPrefix starts the names the core makes when no name is given.
const DefaultPrefix = "nsrun-"

// Random returns prefix followed by 12 random hex digits. It does not check
// that the name is free.
func Random(prefix string) string {
	u := uuid.New()
	return prefix + hex.EncodeToString(u[:6])
}
