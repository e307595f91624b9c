package relay

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// timer wakes a goroutine at a time given in nanoseconds, precisely: a
// timerfd in the runtime's poller. Go's own timers wake the poller with a
// resolution of a millisecond, too coarse for delays of a millisecond or
// two.
type timer struct {
	f  *os.File
	rc syscall.RawConn
	b  [8]byte
}

func newTimer() (*timer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("create timerfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "timerfd")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &timer{f: f, rc: rc}, nil
}

// arm makes the timer fire in d nanoseconds (at once if d <= 0).
func (t *timer) arm(d int64) {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(max(d, 1))}
	_ = t.rc.Control(func(fd uintptr) { _ = unix.TimerfdSettime(int(fd), 0, &spec, nil) })
}

// wait returns once the timer has fired, or with an error once closed.
func (t *timer) wait() error {
	_, err := t.f.Read(t.b[:])
	return err
}

func (t *timer) close() error { return t.f.Close() }
