package main

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"syscall"
)

// pool keeps idle host processes (`sleep infinity` children) for the rows
// that measure with many processes on the host. The children are started
// from one goroutine locked to its thread for the life of the pool, since
// the kernel sends their parent-death signal (SIGKILL: a benchmark that is
// itself killed takes them along) when the thread that forked them ends,
// and threads do end here: CNI's NewNS retires its locked thread. Close
// kills and reaps them all.
type pool struct {
	req  chan int // wanted size; closing it stops the pool
	resp chan error
	size int // as of the last resize; only the caller touches it
}

func newPool() (*pool, error) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		return nil, err
	}
	p := &pool{req: make(chan int), resp: make(chan error)}
	go p.serve(sleep)
	return p, nil
}

func (p *pool) serve(sleep string) {
	runtime.LockOSThread() // never unlocked: see pool
	var cmds []*exec.Cmd
	shrink := func(n int) error {
		var errs []error
		for _, c := range cmds[n:] {
			if err := c.Process.Signal(syscall.SIGKILL); err != nil {
				errs = append(errs, err)
			}
		}
		for _, c := range cmds[n:] {
			c.Wait() // reap; the error is the SIGKILL
		}
		cmds = cmds[:n]
		return errors.Join(errs...)
	}
	for want := range p.req {
		var err error
		for len(cmds) < want {
			c := exec.Command(sleep, "infinity")
			c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			if err = c.Start(); err != nil {
				err = fmt.Errorf("start idle process %d of %d: %w", len(cmds)+1, want, err)
				break
			}
			cmds = append(cmds, c)
		}
		if len(cmds) > want {
			err = shrink(want)
		}
		p.resp <- err
	}
	p.resp <- shrink(0)
}

// resize starts or kills idle processes until there are n.
func (p *pool) resize(n int) error {
	if n == p.size {
		return nil
	}
	p.req <- n
	err := <-p.resp
	if err != nil {
		p.size = -1 // unknown: the next resize does the work
	} else {
		p.size = n
	}
	return err
}

// close kills and reaps every idle process.
func (p *pool) close() error {
	close(p.req)
	err := <-p.resp
	p.size = 0
	return err
}
