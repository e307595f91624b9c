package reaper

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// privatize gives the run its own (tmpfs) namespace directory and owner
// record directory, in which only the run's own namespaces (s.Netns and
// s.Expose) are visible by name. A namespace the payload makes (nstest in
// a test binary run by go test -exec nsrun, a nested nsrun, ip netns add)
// then lives and dies with the run: its name never shows on the host, and
// its owner record, which holds a pid of this PID namespace, can never be
// mistaken by a sweep on the host for the record of a dead owner.
//
// The run's own namespace is bound there later (see prepare), from the fd
// the reaper joined it by: it is being made while this runs.
func privatize(s Spec) error {
	if s.NetnsDir == "" {
		return nil
	}
	fds := make([]int, 0, len(s.Expose))
	defer func() {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
	}()
	for _, name := range s.Expose {
		fd, err := unix.Open(filepath.Join(s.NetnsDir, name), unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("open namespace %s: %w", name, err)
		}
		fds = append(fds, fd)
	}
	for _, dir := range []string{s.NetnsDir, s.RecordDir} {
		if err := mountTmpfs(dir); err != nil {
			return err
		}
	}
	for i, name := range s.Expose {
		if err := bindFd(fds[i], filepath.Join(s.NetnsDir, name)); err != nil {
			return err
		}
	}
	return nil
}

// mountTmpfs mounts an empty tmpfs on dir, creating dir if needed.
func mountTmpfs(dir string) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if err := unix.Mount("nsrun", dir, "tmpfs", flags, "mode=0755,size=1m"); err != nil {
		return fmt.Errorf("mount private %s: %w", dir, err)
	}
	return nil
}

// bindFd binds the namespace open as fd onto a new file at path.
func bindFd(fd int, path string) error {
	f, err := unix.Open(path, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	_ = unix.Close(f)
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", fd), path, "none", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind namespace onto %s: %w", path, err)
	}
	return nil
}
