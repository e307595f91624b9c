//go:build !linux

package runner_test

import (
	"errors"
	"testing"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/runner"
	"github.com/stretchr/testify/assert"
)

func TestOffLinuxNotSupported(t *testing.T) {
	err := runner.Command(nil, "true").Start()
	var rerr *runner.Error
	if assert.True(t, errors.As(err, &rerr)) {
		assert.Equal(t, 125, rerr.Code)
	}
	assert.ErrorIs(t, err, nsrun.ErrNotSupported)
}
