package nstest

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/internal/netdump"
	"github.com/nsrun/nsrun/internal/pause"
)

// PauseEnv names the environment variable that, set to 1, makes a failed
// test wait before its namespaces are removed (see New). Mind go test's
// -timeout, which keeps running while the test waits: use -timeout 0.
const PauseEnv = "NSTEST_PAUSE_ON_FAILURE"

// reportFailure logs, when tb has failed, the state of each namespace of
// nodes (label -> namespace) and extra (a diagram, say), and then, with
// PauseEnv set, waits at the terminal. It is called before the namespaces
// are removed.
func reportFailure(tb testing.TB, what string, nodes map[string]*nsrun.Namespace, extra string) {
	if !tb.Failed() && !panicking() {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "nstest: the test failed; %s at that point:\n", what)
	if extra != "" {
		b.WriteString(extra)
		if !strings.HasSuffix(extra, "\n") {
			b.WriteByte('\n')
		}
	}
	for _, d := range netdump.GatherAll(nodes) {
		_, _ = d.WriteTo(&b)
	}
	tb.Log(b.String())
	if os.Getenv(PauseEnv) != "1" {
		return
	}
	labels := make([]string, 0, len(nodes))
	for l := range nodes {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	var lines []string
	for _, l := range labels {
		lines = append(lines, fmt.Sprintf("%-10s %s", l, pause.EnterLine(nodes[l].Name())))
	}
	if err := pause.Wait(fmt.Sprintf("%s failed; %s kept", tb.Name(), what), lines); err != nil {
		tb.Logf("nstest: %s=1, but no pause: %v", PauseEnv, err)
	}
}
