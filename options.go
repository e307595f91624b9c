package nsrun

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/nsrun/nsrun/internal/nsname"
)

// New creates a named network namespace in Dir, as `ip netns add` does,
// with lo up (see WithLoopbackDown) and the requested sysctls applied, and
// writes its owner record. The namespace is made on a throwaway locked
// thread, switched back and verified (or destroyed) before New returns: the
// caller's thread never moves.
//
// The caller must call Delete. New needs CAP_SYS_ADMIN (for unshare and
// mount); without it the error matches os.ErrPermission. Options are fully
// validated first (errors match ErrInvalid), and a failure part way leaves
// nothing behind. New is safe to call from parallel tests.
//
// The first New of a process also sets the host-wide sysctl
// net.core.fb_tunnels_only_for_init_net from 0 to 1, so that new namespaces
// hold only lo whatever tunnel modules the host has loaded (the host keeps
// its own fallback devices; other values are left alone).
func New(opts ...Option) (*Namespace, error) {
	c := newConfig(opts)
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("create network namespace: %w", err)
	}
	n, err := create(c)
	if err != nil {
		return nil, fmt.Errorf("create network namespace %s: %w", c.name, err)
	}
	return n, nil
}

// Option configures New.
type Option func(*config)

type config struct {
	name, prefix string
	nameSet      bool
	loopbackDown bool
	sysctls      [][2]string
	grace        time.Duration
	hostname     string
	etcFiles     []etcFile
}

// etcFile is a file New places in /etc/netns/NAME.
type etcFile struct {
	name string
	data []byte
}

// defaultKillGrace is how long Delete waits after SIGTERM before SIGKILL.
const defaultKillGrace = time.Second

func newConfig(opts []Option) config {
	c := config{prefix: nsname.DefaultPrefix, grace: defaultKillGrace}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithName gives the namespace exactly this name instead of a random one.
// New fails if the name is taken.
func WithName(name string) Option { return func(c *config) { c.name, c.nameSet = name, true } }

// WithPrefix sets the start of the random name (default "nsrun-"): the
// prefix followed by 12 random hex digits.
func WithPrefix(prefix string) Option { return func(c *config) { c.prefix = prefix } }

// WithLoopbackDown leaves lo down; by default New brings it up.
func WithLoopbackDown() Option { return func(c *config) { c.loopbackDown = true } }

// WithSysctl writes value to the per-namespace sysctl key (for example
// "net.ipv4.ip_forward" or "net/ipv6/conf/all/forwarding") inside the new
// namespace before New returns. Only net.* keys are per namespace.
func WithSysctl(key, value string) Option {
	return func(c *config) { c.sysctls = append(c.sysctls, [2]string{key, value}) }
}

// WithKillGrace sets how long Delete waits between SIGTERM and SIGKILL for
// the processes left inside (default one second; zero sends SIGKILL at once).
func WithKillGrace(d time.Duration) Option { return func(c *config) { c.grace = d } }

// WithHostname gives processes started by Command a UTS namespace of their
// own with this hostname.
func WithHostname(h string) Option { return func(c *config) { c.hostname = h } }

// WithEtcFile places a file called name, holding data, in /etc/netns/NAME
// (NAME being the namespace's): Command, like `ip netns exec`, binds it over
// /etc/name for the processes it starts, so that a namespace can have its
// own hosts or resolv.conf. New creates the directory together with the
// owner record, and Delete (or a later sweep, if this process dies) removes
// it; New fails, changing nothing, if the directory exists already. name is
// a plain file name such as "hosts".
func WithEtcFile(name string, data []byte) Option {
	return func(c *config) { c.etcFiles = append(c.etcFiles, etcFile{name, data}) }
}

// sysctlPath validates a net.* sysctl key and returns its /proc/sys path.
func sysctlPath(key string) (string, error) {
	if !validSysctl(key) {
		return "", fmt.Errorf("sysctl %q: want a net.* key such as net.ipv4.ip_forward: %w", key, ErrInvalid)
	}
	p := key
	if !strings.Contains(key, "/") {
		p = strings.ReplaceAll(key, ".", "/")
	}
	clean := filepath.Join("/proc/sys", p)
	if !strings.HasPrefix(clean, "/proc/sys/net/") {
		return "", fmt.Errorf("sysctl %q: leaves /proc/sys/net: %w", key, ErrInvalid)
	}
	return clean, nil
}

// validSysctl reports whether key is "net." or "net/" followed by letters,
// digits and _ . : / - (interface names in keys may hold the last three).
func validSysctl(key string) bool {
	rest, ok := strings.CutPrefix(key, "net.")
	if !ok {
		rest, ok = strings.CutPrefix(key, "net/")
	}
	if !ok || rest == "" {
		return false
	}
	for _, r := range rest {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("_.:/-", r)) {
			return false
		}
	}
	return true
}

// validate checks everything New can check before touching the kernel, and
// fills in the name. Errors match ErrInvalid.
func (c *config) validate() error {
	if !c.nameSet {
		c.name = nsname.Random(c.prefix)
	}
	if err := ValidateName(c.name); err != nil {
		return err
	}
	for _, kv := range c.sysctls {
		if _, err := sysctlPath(kv[0]); err != nil {
			return err
		}
	}
	if len(c.hostname) > 64 || strings.ContainsAny(c.hostname, "\x00") {
		return fmt.Errorf("hostname %q: at most 64 bytes, no NUL: %w", c.hostname, ErrInvalid)
	}
	if c.grace < 0 {
		return fmt.Errorf("kill grace %v: negative: %w", c.grace, ErrInvalid)
	}
	seen := map[string]bool{}
	for _, f := range c.etcFiles {
		if f.name == "" || f.name == "." || f.name == ".." || strings.ContainsAny(f.name, "/\x00") {
			return fmt.Errorf("etc file %q: want a plain file name such as hosts: %w", f.name, ErrInvalid)
		}
		if seen[f.name] {
			return fmt.Errorf("etc file %q: given twice: %w", f.name, ErrInvalid)
		}
		seen[f.name] = true
	}
	return nil
}
