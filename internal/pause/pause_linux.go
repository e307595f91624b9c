package pause

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nsrun/nsrun/internal/reexec"
)

// ErrNoTerminal says why there was no pause: nobody could press Enter.
var ErrNoTerminal = errors.New("no terminal to pause at (no /dev/tty, or CI is set)")

// Wait prints what is kept and how to enter it (lines) to the terminal and
// waits for Enter, SIGINT or SIGTERM there. The signal is caught while
// waiting, so the caller goes on to clean up. Without a terminal, or in
// CI, it returns ErrNoTerminal at once.
func Wait(title string, lines []string) error {
	if os.Getenv("CI") != "" {
		return ErrNoTerminal
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return ErrNoTerminal
	}
	defer tty.Close()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	fmt.Fprintf(tty, "\n--- paused: %s\n", title)
	for _, l := range lines {
		fmt.Fprintf(tty, "    %s\n", l)
	}
	fmt.Fprintf(tty, "--- press Enter (or Ctrl-C) to clean up and go on: ")
	line := make(chan struct{})
	go func() {
		_, _ = bufio.NewReader(tty).ReadString('\n')
		close(line)
	}()
	select {
	case <-line:
	case sig := <-sigs:
		fmt.Fprintf(tty, "\n--- %s: cleaning up\n", strings.ToUpper(sig.String()))
	}
	return nil
}

// EnterLine is the command that opens a shell in the namespace called name
// from another terminal. In a rootless run the name exists only in the
// run's user and mount namespaces, which nsenter joins through this
// process.
func EnterLine(name string) string {
	if reexec.InRootless() {
		return fmt.Sprintf("nsenter -t %d -U -m --preserve-credentials ip netns exec %s sh", os.Getpid(), name)
	}
	return fmt.Sprintf("sudo ip netns exec %s sh   (or: sudo nsrun exec %s -- sh)", name, name)
}
