// Package mountns prepares a fresh mount namespace the way `ip netns exec`
// does, so that a process in a named network namespace sees that namespace in
// /sys and the namespace's own files from /etc/netns/NAME.
package mountns

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// EtcDir is where per-namespace configuration files live, as in ip-netns(8).
const EtcDir = "/etc/netns"

// Prepare must run in a mount namespace private to the calling process (after
// unshare(CLONE_NEWNS)) on a thread that is already in the network namespace
// called name. It makes every mount a slave (nothing done here propagates
// back to the host), mounts a sysfs that shows the namespace's links, and
// binds each /etc/netns/NAME/X over /etc/X. Bind problems for single files
// are written to warn (may be nil) and do not fail, as with iproute2.
func Prepare(name string, warn io.Writer) error {
	if err := unix.Mount("", "/", "none", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make mounts slave: %w", err)
	}
	if err := remountSys(name); err != nil {
		return err
	}
	return BindEtc(name, warn)
}

// remountSys replaces /sys by a sysfs mounted from inside the namespace. A
// read-only /sys stays read-only, as iproute2 does.
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

// BindEtc binds each entry of /etc/netns/NAME over the same name in /etc.
// A target that is a symlink (resolv.conf pointing into /run, say) is
// resolved first and the bind goes onto the real file; since the mount
// namespace is a slave, nothing piles up on the host.
func BindEtc(name string, warn io.Writer) error {
	dir := filepath.Join(EtcDir, name)
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
		if err != nil && warn != nil {
			fmt.Fprintf(warn, "nsrun: bind %s over /etc/%s: %v\n", src, e.Name(), err)
		}
	}
	return nil
}
