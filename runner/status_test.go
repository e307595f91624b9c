package runner

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestStatusExitCode(t *testing.T) {
	assert.Equal(t, 3, Status{Code: 3}.ExitCode())
	assert.Equal(t, 130, Status{Signal: syscall.SIGINT}.ExitCode())
	assert.Equal(t, 124, Status{Signal: syscall.SIGKILL, TimedOut: true}.ExitCode())
	assert.Equal(t, "signal: killed (timed out)", Status{Signal: syscall.SIGKILL, TimedOut: true}.String())
}

func TestErrorUnwraps(t *testing.T) {
	err := fmt.Errorf("context: %w", failed("start %s: %w", "x", syscall.EPERM))
	var e *Error
	assert.True(t, errors.As(err, &e))
	assert.Equal(t, 125, e.Code)
	assert.ErrorIs(t, err, syscall.EPERM)
	assert.Equal(t, "context: start x: operation not permitted", err.Error())
}
