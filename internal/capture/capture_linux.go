package capture

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Capture records the packets of the namespaces added to it. Its methods
// are safe for concurrent use. Make one with New, add namespaces with Add,
// and end it with Stop, which must be called (it closes the sockets and ends
// the goroutines); write the packets with WriteTo or WriteFile, before or
// after Stop.
type Capture struct {
	cfg Config

	mu      sync.Mutex
	st      store
	ifaces  []iface
	sources map[string]*source
	kdrops  uint64 // kernel drops of the sources removed so far
	stopped bool
}

// New returns a capture of no namespace yet: it holds no socket, goroutine
// or packet memory until Add. The error names a Config field out of bounds.
func New(cfg Config) (*Capture, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Capture{
		cfg:     cfg,
		st:      newStore(cfg.Limit, maxBlock(cfg.Snaplen)),
		sources: map[string]*source{},
	}, nil
}

// Add starts capturing every interface, present and future, of a network
// namespace. do must run its function inside the namespace (a
// *nsrun.Namespace's Do): Add makes the namespace's sockets there and
// returns, leaving a goroutine that reads them until Remove or Stop. label
// names the namespace in interface names ("label/eth0") and must be unique
// in the capture. The capture holds a reference to the namespace while it
// reads it: Remove it before deleting the namespace, or the kernel keeps
// the namespace, and its links, until Stop.
func (c *Capture) Add(label string, do func(func() error) error) error {
	c.mu.Lock()
	switch {
	case c.stopped:
		c.mu.Unlock()
		return ErrStopped
	case c.sources[label] != nil:
		c.mu.Unlock()
		return fmt.Errorf("capture %s: added twice", label)
	}
	s := &source{c: c, label: label, fd: -1, names: names{fd: -1}, done: make(chan struct{})}
	c.sources[label] = s // reserve the label while opening
	c.mu.Unlock()

	err := do(func() error { return s.open(c.cfg.Snaplen) })
	if err == nil {
		err = s.start()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	removed := c.sources[label] != s // by Remove or Stop, while opening
	switch {
	case err != nil:
		if !removed {
			delete(c.sources, label)
		}
		s.close()
		return fmt.Errorf("capture %s: %w", label, err)
	case removed:
		s.close()
		if c.stopped {
			return ErrStopped
		}
		return nil
	}
	s.started = true
	go s.run()
	return nil
}

// Remove stops capturing the namespace added as label, after reading what
// its ring holds (waiting a few milliseconds for a block the kernel is
// still filling), and closes its sockets. Packets already captured stay.
// Removing a label the capture does not have does nothing.
func (c *Capture) Remove(label string) {
	c.mu.Lock()
	s := c.sources[label]
	delete(c.sources, label)
	started := s != nil && s.started // else Add, still opening it, closes it
	c.mu.Unlock()
	if started {
		c.finish(s.stop())
	}
}

// finish ends a stopped source: it waits for its reader and closes it.
func (c *Capture) finish(s *source) {
	<-s.done
	drops := s.kernelDrops()
	s.close()
	c.mu.Lock()
	c.kdrops += drops
	c.mu.Unlock()
}

// Stop removes every namespace, in parallel, and refuses more. It is
// idempotent. Afterwards the capture holds no socket or goroutine, only
// its packets, until it is garbage.
func (c *Capture) Stop() {
	c.mu.Lock()
	c.stopped = true
	var stopping []*source
	for label, s := range c.sources {
		if s.started {
			stopping = append(stopping, s.stop())
		}
		delete(c.sources, label)
	}
	c.mu.Unlock()
	for _, s := range stopping {
		c.finish(s)
	}
}

// Stats returns the packet counts so far.
func (c *Capture) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.statsLocked()
}

func (c *Capture) statsLocked() Stats {
	return Stats{Packets: c.st.packets, Dropped: c.st.dropped, KernelDrops: c.kdrops}
}

// WriteTo writes the packets captured so far to w as a pcapng file, in
// time order. It may be called while the capture runs (packets still in a
// ring are not in it then) and any number of times.
func (c *Capture) WriteTo(w io.Writer) (int64, error) {
	c.mu.Lock()
	snap := snapshot{
		comments: c.statsLocked().comments(c.cfg),
		ifaces:   slices.Clone(c.ifaces),
		snaplen:  c.cfg.Snaplen,
		chunks:   c.st.snapshot(),
	}
	c.mu.Unlock()
	return snap.writeTo(w)
}

// WriteFile writes the packets to path (see WriteTo), through a temporary
// file in the same directory, so that path never holds half a capture.
func (c *Capture) WriteFile(path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write capture: %w", err)
	}
	_, err = c.WriteTo(f)
	err = errors.Join(err, f.Chmod(0o644), f.Close())
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write capture %s: %w", path, err)
	}
	return nil
}

// iface adds an interface block for the interface called name and returns
// its id. Each source asks once per interface index it sees.
func (c *Capture) iface(name, desc string) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ifaces = append(c.ifaces, iface{name, desc})
	return uint32(len(c.ifaces) - 1)
}
