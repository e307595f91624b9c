//go:build !linux

package nsrun_test

import (
	"testing"

	"github.com/nsrun/nsrun"
	"github.com/stretchr/testify/assert"
)

func TestOffLinuxNotSupported(t *testing.T) {
	_, err := nsrun.New(nsrun.WithSysctl("kernel.hostname", "x"))
	assert.ErrorIs(t, err, nsrun.ErrInvalid, "options are checked everywhere")
	_, err = nsrun.New()
	assert.ErrorIs(t, err, nsrun.ErrNotSupported)
	_, err = nsrun.Open("x")
	assert.ErrorIs(t, err, nsrun.ErrNotSupported)
	var n *nsrun.Namespace
	assert.ErrorIs(t, n.Command("true").Run(), nsrun.ErrNotSupported)
}
