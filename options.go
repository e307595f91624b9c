package nsrun

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Option configures New.
type Option func(*config)

type config struct {
	name, prefix string
	nameSet      bool
	loopbackDown bool
	sysctls      [][2]string
	grace        time.Duration
	creator      string
	hostname     string
	etcDir       bool
}

// DefaultKillGrace is how long Delete waits after SIGTERM before SIGKILL.
const DefaultKillGrace = time.Second

func newConfig(opts []Option) config {
	c := config{prefix: DefaultPrefix, grace: DefaultKillGrace, creator: "nsrun"}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithName gives the namespace exactly this name instead of a random one.
// New fails if the name is taken.
func WithName(name string) Option { return func(c *config) { c.name, c.nameSet = name, true } }

// WithPrefix sets the start of the random name (default DefaultPrefix).
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
// the processes left inside (default DefaultKillGrace).
func WithKillGrace(d time.Duration) Option { return func(c *config) { c.grace = d } }

// WithCreator labels the owner record (for example "nstest" or "nsrun"), so
// `nsrun ls` can say who made a namespace.
func WithCreator(label string) Option { return func(c *config) { c.creator = label } }

// WithEtcDir makes /etc/netns/NAME with the namespace (see EtcDir), in the
// same step as the owner record, so that it is removed with the namespace.
func WithEtcDir() Option { return func(c *config) { c.etcDir = true } }

// WithHostname gives processes started by Command a UTS namespace of their
// own with this hostname.
func WithHostname(h string) Option { return func(c *config) { c.hostname = h } }

var sysctlKey = regexp.MustCompile(`^net[./][A-Za-z0-9_.:/-]+$`)

// sysctlPath validates a net.* sysctl key and returns its /proc/sys path.
func sysctlPath(key string) (string, error) {
	if !sysctlKey.MatchString(key) {
		return "", fmt.Errorf("invalid sysctl %q: want a net.* key such as net.ipv4.ip_forward", key)
	}
	p := key
	if !strings.Contains(key, "/") {
		p = strings.ReplaceAll(key, ".", "/")
	}
	clean := filepath.Join("/proc/sys", p)
	if !strings.HasPrefix(clean, "/proc/sys/net/") {
		return "", fmt.Errorf("invalid sysctl %q: leaves /proc/sys/net", key)
	}
	return clean, nil
}

// validate checks everything New can check before touching the kernel, and
// fills in the name.
func (c *config) validate() error {
	if !c.nameSet {
		c.name = RandomName(c.prefix)
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
		return fmt.Errorf("invalid hostname %q: at most 64 bytes, no NUL", c.hostname)
	}
	if c.grace < 0 {
		return fmt.Errorf("invalid kill grace %v: negative", c.grace)
	}
	return nil
}
