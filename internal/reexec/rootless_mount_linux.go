package reexec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/nsrun/nsrun/internal/paths"
	"golang.org/x/sys/unix"
)

// privateState makes the state of a rootless run private to it, in the
// process's new mount namespace: the `ip netns` directory, the owner
// records and /etc/netns become empty directories of its own, so that
// `ip netns list` inside the run shows the run's namespaces and nothing
// else, and every name (and so every namespace) dies with the run's mount
// namespace, even after SIGKILL. /sys is remounted to show the run's own
// network namespace, as the rest of nsrun does for every namespace.
func privateState() error {
	if err := unix.Mount("", "/", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make mounts slave: %w", err)
	}
	if err := privateDirs([]string{paths.Netns(), paths.Records(), paths.Etc}); err != nil {
		return err
	}
	if err := unix.Mount("sysfs", "/sys", "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount sysfs: %w", err)
	}
	return nil
}

// privateDirs gives each of dirs an empty tmpfs of its own. A directory
// that exists gets the tmpfs mounted on it (the cheap case: one mount). One
// that does not exist cannot be made where it belongs (/run and /etc belong
// to the real root, whom a user namespace does not map), so its nearest
// existing ancestor gets a tmpfs instead, with every entry it had bound
// back into it (symlinks copied), and the directory is made in there: the
// rest of the ancestor (/run/user, /etc/passwd...) looks as before, and
// nothing is written on the host.
func privateDirs(dirs []string) error {
	var exist []string
	missing := map[string][]string{} // ancestor -> directories to make under it
	for _, d := range dirs {
		d = filepath.Clean(d)
		fi, err := os.Stat(d)
		switch {
		case err == nil && fi.IsDir():
			exist = append(exist, d)
		case err == nil:
			return fmt.Errorf("private %s: not a directory", d)
		case errors.Is(err, os.ErrNotExist):
			a, err := existingAncestor(d)
			if err != nil {
				return err
			}
			missing[a] = append(missing[a], d)
		default:
			return fmt.Errorf("private %s: %w", d, err)
		}
	}
	ancestors := make([]string, 0, len(missing))
	for a := range missing {
		ancestors = append(ancestors, a)
	}
	sort.Strings(ancestors) // a parent before its children
	for _, a := range ancestors {
		if err := overlayDir(a); err != nil {
			return err
		}
	}
	for _, d := range exist {
		if err := unix.Mount("nsrun", d, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size=1m"); err != nil {
			return fmt.Errorf("mount private %s: %w", d, err)
		}
	}
	for _, a := range ancestors {
		for _, d := range missing[a] {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fmt.Errorf("private %s: %w", d, err)
			}
		}
	}
	return nil
}

// existingAncestor returns the nearest ancestor of d that exists, which
// must not be the root directory.
func existingAncestor(d string) (string, error) {
	for a := filepath.Dir(d); ; a = filepath.Dir(a) {
		if a == "/" || a == "." {
			return "", fmt.Errorf("private %s: no parent of it exists but /", d)
		}
		fi, err := os.Stat(a)
		if err == nil && fi.IsDir() {
			return a, nil
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("private %s: %w", d, err)
		}
	}
}

// overlayDir mounts a tmpfs on dir, with dir's permissions, and binds each
// entry of the old dir back (recursively, submounts included), through an
// fd opened on the old dir before the mount hid it; symlinks are copied.
func overlayDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	opts := fmt.Sprintf("mode=%o", st.Mode&0o7777)
	if err := unix.Mount("nsrun", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount private %s: %w", dir, err)
	}
	old := fmt.Sprintf("/proc/self/fd/%d/", fd)
	for _, e := range entries {
		if err := bindBack(fd, old+e.Name(), filepath.Join(dir, e.Name()), e.Type()); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // gone since it was listed
			}
			return fmt.Errorf("private %s: %w", dir, err)
		}
	}
	return nil
}

// bindBack recreates the entry src, of type typ, at dst: a symlink by
// copying it, anything else by binding it onto a placeholder.
func bindBack(fd int, src, dst string, typ fs.FileMode) error {
	switch {
	case typ&fs.ModeSymlink != 0:
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(fd, filepath.Base(src), buf)
		if err != nil {
			return fmt.Errorf("read link %s: %w", filepath.Base(dst), err)
		}
		return os.Symlink(string(buf[:n]), dst)
	case typ.IsDir():
		if err := unix.Mkdir(dst, 0o755); err != nil {
			return fmt.Errorf("create %s: %w", dst, err)
		}
	default:
		f, err := unix.Open(dst, unix.O_RDONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o644)
		if err != nil {
			return fmt.Errorf("create %s: %w", dst, err)
		}
		_ = unix.Close(f)
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s back: %w", dst, err)
	}
	return nil
}
