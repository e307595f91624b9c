// Package paths names the places nsrun keeps state in, resolved once: the
// `ip netns` directory, the owner-record directory beside it, and
// /etc/netns. Every other package asks here instead of spelling a path, so
// that a private setup (rootless mode binds a tmpfs over them) changes one
// place. It imports only the standard library: the re-exec path uses it.
package paths

import (
	"os"
	"path/filepath"
	"sync"
)

// NetnsEnv names the environment variable that overrides the `ip netns`
// directory. iproute2 itself only ever reads the default.
const NetnsEnv = "NSRUN_NETNS_DIR"

// Etc is where per-namespace configuration files live, as in ip-netns(8):
// `ip netns exec` binds /etc/netns/NAME/X over /etc/X.
const Etc = "/etc/netns"

var netns = sync.OnceValue(func() string {
	if d := os.Getenv(NetnsEnv); d != "" {
		return filepath.Clean(d)
	}
	// iproute2 uses /var/run/netns; on most systems /var/run is a symlink to
	// /run, and the kernel's mount table names the resolved path.
	if run, err := filepath.EvalSymlinks("/var/run"); err == nil {
		return filepath.Join(run, "netns")
	}
	return "/run/netns"
})

// Netns returns the directory that holds named network namespaces, the one
// `ip netns` lists: /run/netns on most systems, or the value of NetnsEnv.
func Netns() string { return netns() }

// Records returns the directory beside Netns that holds the owner records of
// the namespaces nsrun made.
func Records() string { return filepath.Join(filepath.Dir(Netns()), "nsrun") }
