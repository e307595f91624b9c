package nsrun

import (
	"context"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Monitor reports namespaces added to and deleted from Dir until ctx is
// done, then closes the channel; like `ip netns monitor`, it watches the
// directory with inotify, so an add is reported when the name appears
// (just before the namespace is mounted on it). Events come in order; a
// reader that falls more than 64 events behind blocks the watcher, not the
// kernel (inotify queues up to its own limit).
func Monitor(ctx context.Context) (<-chan Event, error) {
	if err := prepareDir(); err != nil {
		return nil, fmt.Errorf("monitor network namespaces: %w", err)
	}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("monitor network namespaces: %w", err)
	}
	if _, err := unix.InotifyAddWatch(fd, Dir(), unix.IN_CREATE|unix.IN_DELETE); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("monitor network namespaces: watch %s: %w", Dir(), err)
	}
	// A pipe wakes the poll loop when ctx is done.
	var wake [2]int
	if err := unix.Pipe2(wake[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("monitor network namespaces: %w", err)
	}
	events := make(chan Event, 64)
	stop := context.AfterFunc(ctx, func() { unix.Write(wake[1], []byte{0}) })
	go func() {
		defer close(events)
		defer stop()
		defer unix.Close(fd)
		defer unix.Close(wake[0])
		defer unix.Close(wake[1])
		watch(ctx, fd, wake[0], events)
	}()
	return events, nil
}

func watch(ctx context.Context, fd, wake int, events chan<- Event) {
	buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
	for {
		pfds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(wake), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfds, -1); err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		if ctx.Err() != nil {
			return
		}
		n, err := unix.Read(fd, buf)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			name := string(nameBytes[:clen(nameBytes)])
			deleted := false
			if ev.Mask&unix.IN_DELETE != 0 {
				deleted = true
			}
			select {
			case events <- Event{Name: name, Deleted: deleted}:
			case <-ctx.Done():
				return
			}
		}
	}
}

func clen(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return len(b)
}
