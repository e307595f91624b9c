package capture

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Config bounds a capture. The zero value means the defaults.
type Config struct {
	// Snaplen is how many bytes of each packet are kept: DefaultSnaplen if
	// zero, at least MinSnaplen, at most MaxSnaplen.
	Snaplen int
	// Limit is how many bytes of packets a capture keeps (about the size
	// of its file): DefaultLimit if zero, at least MinLimit. Beyond it the
	// oldest packets are dropped.
	Limit int64
	// Comment, if set, goes into the file's section header (what was
	// captured: "test TestEcho", say).
	Comment string
}

// Bounds of Config.
const (
	DefaultSnaplen = 65535    // whole packets up to 64 KiB (TSO/GSO packets may be longer)
	MinSnaplen     = 64       // enough for the headers of most packets
	MaxSnaplen     = 262144   // tcpdump's whole-packet default
	DefaultLimit   = 32 << 20 // 32 MiB
	MinLimit       = 1 << 20
)

// withDefaults returns c with zero fields set to the defaults, or an error
// naming the field out of bounds.
func (c Config) withDefaults() (Config, error) {
	if c.Snaplen == 0 {
		c.Snaplen = DefaultSnaplen
	}
	if c.Limit == 0 {
		c.Limit = DefaultLimit
	}
	switch {
	case c.Snaplen < MinSnaplen || c.Snaplen > MaxSnaplen:
		return c, fmt.Errorf("snap length %d is out of range [%d, %d]", c.Snaplen, MinSnaplen, MaxSnaplen)
	case c.Limit < MinLimit:
		return c, fmt.Errorf("size limit %s is below the minimum of %s", FormatSize(c.Limit), FormatSize(MinLimit))
	}
	return c, nil
}

// maxBlock is the largest packet block a capture with snap length snaplen
// stores: the snap length plus a made-up Ethernet header or a VLAN tag
// are cut back to the snap length, so this is exact.
func maxBlock(snaplen int) int { return epbSize(snaplen) }

// sizeUnits are the suffixes ParseSize takes, longest first.
var sizeUnits = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30},
	{"B", 1},
}

// ParseSize parses a size: a number of bytes, or a whole number with a
// suffix K, M, G (or KiB, MiB, GiB: powers of 1024) or KB, MB, GB (powers of
// 1000), as in "64MiB" or "64M".
func ParseSize(s string) (int64, error) {
	num, factor := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, factor = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/factor {
		return 0, fmt.Errorf("size %q: want a number of bytes, or one with a suffix such as MiB (64MiB)", s)
	}
	return n * factor, nil
}

// FormatSize formats a size in the largest binary unit that divides it.
func FormatSize(n int64) string {
	for _, u := range []struct {
		suffix string
		factor int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.factor && n%u.factor == 0 {
			return strconv.FormatInt(n/u.factor, 10) + " " + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

// ErrStopped is returned by Add after Stop.
var ErrStopped = errors.New("capture: stopped")

// Stats counts a capture's packets.
type Stats struct {
	Packets     uint64 // held, to be written
	Dropped     uint64 // the oldest, dropped to stay under Config.Limit
	KernelDrops uint64 // dropped by the kernel because a reader fell behind (read when a namespace is removed)
}

// AllDropped is every packet that is not in the file.
func (s Stats) AllDropped() uint64 { return s.Dropped + s.KernelDrops }

// comments are the section header's comments for a capture with these
// stats.
func (s Stats) comments(c Config) []string {
	first := "nsrun capture"
	if c.Comment != "" {
		first += " of " + c.Comment
	}
	first += fmt.Sprintf(": %d packets, snap length %d, size limit %s", s.Packets, c.Snaplen, FormatSize(c.Limit))
	out := []string{first}
	if s.Dropped > 0 {
		out = append(out, fmt.Sprintf("%d packets dropped: the oldest, to stay under the size limit of %s", s.Dropped, FormatSize(c.Limit)))
	}
	if s.KernelDrops > 0 {
		out = append(out, fmt.Sprintf("%d packets dropped by the kernel: the capture could not keep up", s.KernelDrops))
	}
	return out
}
