package runner

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStatusExitCode(t *testing.T) {
	assert.Equal(t, 3, Status{Code: 3}.ExitCode())
	assert.Equal(t, 130, Status{Signal: syscall.SIGINT}.ExitCode())
	assert.Equal(t, 124, Status{Signal: syscall.SIGKILL, TimedOut: true}.ExitCode())
	assert.Equal(t, 125, ErrorCode(assert.AnError))
	assert.Equal(t, 127, ErrorCode(&Error{Code: 127}))
	assert.Equal(t, 0, ErrorCode(nil))
}
