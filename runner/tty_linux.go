package runner

import (
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// foregroundTTY returns stdin if it is a terminal whose foreground process
// group is ours: only then may the payload take the terminal over. A
// program running in the background keeps its hands off.
func foregroundTTY(stdin io.Reader) *os.File {
	f, ok := stdin.(*os.File)
	if !ok || f == nil {
		return nil
	}
	pgrp, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCGPGRP)
	if err != nil || pgrp != unix.Getpgrp() {
		return nil
	}
	return f
}

// restoreTerminal makes our process group the terminal's foreground group
// again after the payload had it. We are a background group at that point,
// so SIGTTOU is ignored around the call, as shells do.
func (c *Cmd) restoreTerminal() {
	if c.ctty == nil {
		return
	}
	signal.Ignore(syscall.SIGTTOU)
	defer signal.Reset(syscall.SIGTTOU)
	_ = unix.IoctlSetPointerInt(int(c.ctty.Fd()), unix.TIOCSPGRP, unix.Getpgrp())
}
