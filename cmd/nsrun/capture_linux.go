package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nsrun/nsrun/internal/capture"
)

// captureOpts are the --capture flags of the default command: record every
// interface of every namespace of the run (the one namespace, or each node
// of the topology) into one pcapng file in dir, kept when the command fails
// (or always, with keep).
type captureOpts struct {
	dir     string
	keep    bool
	snaplen int
	limit   string
}

// register adds the --capture flags.
func (o *captureOpts) register(fs *flag.FlagSet) {
	fs.StringVar(&o.dir, "capture", "", "capture the packets of every interface of the run's namespaces into a pcapng file in `DIR`, kept if the command fails")
	fs.BoolVar(&o.keep, "capture-keep", false, "with --capture: keep the file when the command succeeds too")
	fs.IntVar(&o.snaplen, "capture-snaplen", 0, fmt.Sprintf("with --capture: keep at most this many `bytes` of each packet (default %d)", capture.DefaultSnaplen))
	fs.StringVar(&o.limit, "capture-limit", "", fmt.Sprintf("with --capture: keep at most this `size` of packets, dropping the oldest (default %s)", strings.ReplaceAll(capture.FormatSize(capture.DefaultLimit), " ", "")))
}

// check validates the --capture flags and returns the capture's Config.
func (o *captureOpts) check() (capture.Config, error) {
	if o.dir == "" {
		if o.keep || o.snaplen != 0 || o.limit != "" {
			return capture.Config{}, errors.New("--capture-keep, --capture-snaplen and --capture-limit need --capture DIR")
		}
		return capture.Config{}, nil
	}
	cfg := capture.Config{Snaplen: o.snaplen}
	if o.limit != "" {
		limit, err := capture.ParseSize(o.limit)
		if err != nil {
			return cfg, fmt.Errorf("--capture-limit: %w", err)
		}
		cfg.Limit = limit
	}
	if _, err := capture.New(cfg); err != nil { // validates; holds nothing
		return cfg, fmt.Errorf("--capture: %w", err)
	}
	return cfg, nil
}

// runCapture is the capture of one run.
type runCapture struct {
	c   *capture.Capture
	dir string
}

// startCapture starts capturing every namespace of s, labelled with its
// node's name (the namespace's own name without a topology). Without
// --capture it does nothing and returns nil.
func (a *app) startCapture(o *runOpts, s *session) (*runCapture, error) {
	if o.capture.dir == "" {
		return nil, nil
	}
	cfg, err := o.capture.check()
	if err != nil {
		return nil, err
	}
	cfg.Comment = "nsrun " + s.what
	dir, err := filepath.Abs(o.capture.dir) // the path printed is absolute
	if err != nil {
		return nil, fmt.Errorf("--capture: %w", err)
	}
	c, err := capture.New(cfg)
	if err != nil {
		return nil, err
	}
	for label, ns := range labelled(s) {
		if err := c.Add(label, ns.Do); err != nil {
			c.Stop()
			return nil, fmt.Errorf("--capture: %w", err)
		}
	}
	a.logf("capturing the packets of %s", s.what)
	return &runCapture{c: c, dir: dir}, nil
}

// saveCapture stops the capture and, if the command failed (code not 0) or
// --capture-keep, writes it to DIR/NAME.pcapng (NAME: the namespace's or
// the topology's), owned by u (the user the command ran as), and says where
// on stderr. Packets are never written otherwise. A failure to write is a
// warning: the exit code stays the command's.
func (a *app) saveCapture(rc *runCapture, o *runOpts, s *session, sum *summary, u *account, code int) {
	if rc == nil {
		return
	}
	rc.c.Stop()
	if code == 0 && !o.capture.keep {
		return
	}
	path, err := rc.write(s.downName, u)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		fmt.Fprintf(a.stderr, "nsrun: warning: --capture: %v\n", err)
		return
	}
	st := rc.c.Stats()
	fmt.Fprintf(a.stderr, "nsrun: capture: %s (%d packets, %d dropped)\n", path, st.Packets, st.AllDropped())
	sum.attach("", path)
}

// write writes the capture to a new file in rc.dir called name.pcapng (or
// name-2.pcapng, ...), giving u the file and the directories it makes.
func (rc *runCapture) write(name string, u *account) (string, error) {
	made, err := mkdirAll(rc.dir)
	if err != nil {
		return "", err
	}
	path := ""
	for i := 1; path == ""; i++ {
		p := filepath.Join(rc.dir, name+".pcapng")
		if i > 1 {
			p = filepath.Join(rc.dir, fmt.Sprintf("%s-%d.pcapng", name, i))
		}
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			f.Close()
			path = p
		} else if !errors.Is(err, os.ErrExist) || i >= 1000 {
			return "", err
		}
	}
	if err := rc.c.WriteFile(path); err != nil {
		os.Remove(path)
		return "", err
	}
	if u != nil && !u.nested {
		for _, p := range append(made, path) {
			if err := os.Lchown(p, int(u.uid), int(u.gid)); err != nil {
				return path, err
			}
		}
	}
	return path, nil
}

// mkdirAll is os.MkdirAll that returns the directories it made.
func mkdirAll(dir string) ([]string, error) {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == filepath.Dir(d) {
			break
		}
		missing = append(missing, d)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	sort.Slice(missing, func(i, j int) bool { return len(missing[i]) < len(missing[j]) })
	return missing, nil
}
