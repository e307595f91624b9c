package nsrun

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/nsrun/nsrun/internal/paths"
	"golang.org/x/sys/unix"
)

var dirReady struct {
	sync.Mutex
	done atomic.Bool
}

// prepareDir creates Dir the way iproute2 does, once per process: the
// directory made a shared mount point (binding it onto itself if it is not a
// mount point yet), under an exclusive flock so that concurrent first-time
// creators do not stack mounts. A shared directory lets the namespace mounts
// propagate to mount namespaces made later (`ip netns exec`, containers).
// The first time, it also turns off fallback tunnel devices for new
// namespaces (noFallbackTunnels), a host-wide setting New documents.
func prepareDir() error {
	if dirReady.done.Load() {
		return nil // the common case, without a lock parallel creators share
	}
	dirReady.Lock()
	defer dirReady.Unlock()
	if dirReady.done.Load() {
		return nil
	}
	d := Dir()
	if err := os.MkdirAll(d, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", d, err)
	}
	if err := os.MkdirAll(paths.Records(), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", paths.Records(), err)
	}
	fd, err := unix.Open(d, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", d, err)
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", d, err)
	}
	defer unix.Flock(fd, unix.LOCK_UN)
	err = unix.Mount("", d, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) {
		// Not a mount point yet: make it one, then shared.
		if err = unix.Mount(d, d, "none", unix.MS_BIND|unix.MS_REC, ""); err == nil {
			err = unix.Mount("", d, "none", unix.MS_SHARED|unix.MS_REC, "")
		}
	}
	if err != nil {
		return fmt.Errorf("make %s a shared mount: %w", d, err)
	}
	dirReady.done.Store(true)
	noFallbackTunnels()
	return nil
}

// fbTunnels is the sysctl that decides whether a new namespace gets the
// fallback devices of loaded tunnel modules (tunl0, sit0, ip6tnl0, ...).
const fbTunnels = "/proc/sys/net/core/fb_tunnels_only_for_init_net"

// noFallbackTunnels sets fbTunnels from 0 (every namespace) to 1 (only the
// host's), so that new namespaces hold only lo whatever modules the host
// has loaded. The host keeps its own devices; other values are left alone.
// Best effort: a kernel without the sysctl, or a read-only /proc/sys,
// changes nothing.
func noFallbackTunnels() {
	if b, err := os.ReadFile(fbTunnels); err == nil && len(b) > 0 && b[0] == '0' {
		os.WriteFile(fbTunnels, []byte("1"), 0)
	}
}
