package reexec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nsrun/nsrun/internal/nsthread"
	"github.com/nsrun/nsrun/internal/paths"
	"golang.org/x/sys/unix"
)

// isolate gives the calling thread, the main one for good, its own mount
// namespace, and a UTS namespace with the host name if one is asked for.
func isolate(s Spec) error {
	flags := unix.CLONE_NEWNS
	if s.Hostname != "" {
		flags |= unix.CLONE_NEWUTS
	}
	if err := nsthread.Isolate(flags); err != nil {
		return err
	}
	if s.Hostname != "" {
		if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
			return fmt.Errorf("set hostname %q: %w", s.Hostname, err)
		}
	}
	return nil
}

// premount prepares what of the mount namespace does not depend on the
// network namespace, so that it is done while the namespace is being made:
// every mount a slave (nothing done here propagates back to the host), and,
// for a supervisor, the private namespace and record directories with the
// exposed namespaces, and a /proc of its PID namespace.
func premount(s Spec) error {
	if err := unix.Mount("", "/", "none", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make mounts slave: %w", err)
	}
	if s.Mode != ModeSupervise {
		return nil
	}
	if err := privatize(s); err != nil {
		return err
	}
	flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if err := unix.Mount("proc", "/proc", "proc", flags, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	return nil
}

// prepare finishes the mount namespace on the thread that joined the network
// namespace open as nsfd, as `ip netns exec` does: a sysfs showing the
// namespace's links and /etc/netns/NAME bound over /etc; for a supervisor
// with a private namespace directory, the namespace's own name in it.
func prepare(s Spec, nsfd int) error {
	if err := remountSys(s.Netns); err != nil {
		return err
	}
	if err := bindEtc(s.Netns); err != nil {
		return err
	}
	if s.Mode == ModeSupervise && s.NetnsDir != "" {
		return bindFd(nsfd, filepath.Join(s.NetnsDir, s.Netns))
	}
	return nil
}

// remountSys replaces /sys by a sysfs mounted from inside the namespace
// called name. A read-only /sys stays read-only, as iproute2 does.
func remountSys(name string) error {
	var flags uintptr
	if err := unix.Unmount("/sys", unix.MNT_DETACH); err != nil {
		var st unix.Statfs_t
		if unix.Statfs("/sys", &st) == nil && st.Flags&unix.ST_RDONLY != 0 {
			flags = unix.MS_RDONLY
		}
	}
	if err := unix.Mount(name, "/sys", "sysfs", flags, ""); err != nil {
		return fmt.Errorf("mount sysfs for %s: %w", name, err)
	}
	return nil
}

// bindEtc binds each entry of /etc/netns/NAME over the same name in /etc.
// A target that is a symlink (resolv.conf pointing into /run, say) is
// resolved first and the bind goes onto the real file; since the mount
// namespace is a slave, nothing piles up on the host. A file that cannot be
// bound is a warning on stderr, not a failure, as with iproute2.
func bindEtc(name string) error {
	dir := filepath.Join(paths.Etc, name)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range entries {
		src := filepath.Join(dir, e.Name())
		dst, err := filepath.EvalSymlinks(filepath.Join("/etc", e.Name()))
		if err == nil {
			err = unix.Mount(src, dst, "none", unix.MS_BIND, "")
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "nsrun: bind %s over /etc/%s: %v\n", src, e.Name(), err)
		}
	}
	return nil
}

// privatize gives the run its own (tmpfs) namespace directory and owner
// record directory, in which only the run's own namespaces (s.Netns and
// s.Expose) are visible by name. A namespace the program makes (nstest in
// a test binary run by go test -exec nsrun, a nested nsrun, ip netns add)
// then lives and dies with the run: its name never shows on the host, and
// its owner record, which holds a pid of this PID namespace, can never be
// mistaken by a sweep on the host for the record of a dead owner.
//
// The run's own namespace is bound there later (see prepare), from the fd
// it was joined by: it is being made while this runs.
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
