package reexec

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"github.com/nsrun/nsrun/internal/nsthread"
	"golang.org/x/sys/unix"
)

// Proc is the parent's side of a re-executed process that gets its network
// namespace from Enter and reports over a pipe (Spec.NetnsPath empty).
type Proc struct {
	Cmd     *exec.Cmd
	sock    *os.File      // our end of the namespace socket, until Enter or Wait
	ready   chan struct{} // closed once the process forwards signals, or reports no more
	reports chan Report
}

// Start starts cmd, which runs Self with the Args of Spec.Argv (and
// Spec.Cloneflags among its clone flags), with the report pipe as its fd 3
// and the namespace socket as its fd 4: cmd.ExtraFiles must be empty. The
// process prepares what does not depend on the network namespace, then
// waits for Enter. The caller ends it with Enter, or by killing it, and
// then calls Wait.
func Start(cmd *exec.Cmd) (*Proc, error) {
	if len(cmd.ExtraFiles) != 0 {
		return nil, errors.New("start re-executed process: ExtraFiles are taken")
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create report pipe: %w", err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		_ = repR.Close()
		_ = repW.Close()
		return nil, fmt.Errorf("create namespace socket: %w", err)
	}
	sock, sockChild := os.NewFile(uintptr(fds[0]), "netns"), os.NewFile(uintptr(fds[1]), "netns")
	cmd.ExtraFiles = []*os.File{repW, sockChild}
	err = cmd.Start()
	_ = repW.Close()
	_ = sockChild.Close()
	if err != nil {
		_ = repR.Close()
		_ = sock.Close()
		return nil, err
	}
	p := &Proc{Cmd: cmd, sock: sock, ready: make(chan struct{}), reports: make(chan Report, 1)}
	go p.readReport(repR)
	return p, nil
}

// Enter hands over the network namespace open as fd: the process checks it
// by device and inode, joins it and goes on to run the program. It is
// called at most once; the socket is closed afterwards, whatever happened.
func (p *Proc) Enter(fd int) error {
	if p.sock == nil {
		return errors.New("hand over network namespace: done already")
	}
	defer p.closeSocket()
	id, err := nsthread.Fstat(fd)
	if err != nil {
		return fmt.Errorf("hand over network namespace: %w", err)
	}
	msg := fmt.Sprintf("%d %d", id.Dev, id.Ino)
	if err := unix.Sendmsg(int(p.sock.Fd()), []byte(msg), unix.UnixRights(fd), nil, unix.MSG_NOSIGNAL); err != nil {
		return fmt.Errorf("hand over network namespace: %w", err)
	}
	return nil
}

// closeSocket closes our end of the namespace socket: a process still
// waiting for its namespace then exits with CodeFailed.
func (p *Proc) closeSocket() {
	if p.sock != nil {
		_ = p.sock.Close()
		p.sock = nil
	}
}

// Forwarded returns the signals a supervising process passes on to the
// program's process group: SIGINT, SIGTERM, SIGHUP and SIGQUIT. A caller
// that supervises the supervisor (nsrun) catches the same ones.
func Forwarded() []os.Signal {
	return []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}
}

// Ready returns a channel that is closed once the process forwards signals
// to the program (ModeSupervise), or once it can no longer report: it
// exec'd the program (ModeExec), or failed, or died.
func (p *Proc) Ready() <-chan struct{} { return p.ready }

// Wait waits for the process to end and returns its report and cmd.Wait's
// error. A process that was never handed a namespace is told to give up.
func (p *Proc) Wait() (Report, error) {
	p.closeSocket()
	err := p.Cmd.Wait()
	return <-p.reports, err
}

// readReport reads the report pipe: the ready line once the process
// forwards signals (or EOF), then the report. ready is closed in every
// case; a process that never reports yields the zero Report.
func (p *Proc) readReport(r *os.File) {
	defer r.Close()
	ready := p.ready
	br := bufio.NewReader(r)
	line, err := br.ReadString('\n')
	if err == nil && line == readyLine {
		close(ready)
		ready = nil
		line, err = br.ReadString('\n')
	}
	if ready != nil {
		close(ready)
	}
	var rep Report
	if err == nil {
		rep = decodeReport(line)
	}
	p.reports <- rep
}
