//go:build !linux

package nsthread

import (
	"fmt"
	"runtime"
)

// Probe fails: network namespaces need Linux.
func Probe() error { return fmt.Errorf("network namespaces need Linux (this is %s)", runtime.GOOS) }
