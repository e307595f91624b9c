package runner

import "github.com/nsrun/nsrun/internal/reexec"

// restoreTerminal makes our process group the terminal's foreground group
// again after the payload had it. We are a background group at that point,
// so SIGTTOU is ignored around the call, as shells do.
func (c *Cmd) restoreTerminal() {
	reexec.RestoreTTY(c.ctty)
}
