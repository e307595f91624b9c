package nstest

import (
	"testing"

	"github.com/nsrun/nsrun"
	"github.com/nsrun/nsrun/fixture"
	"github.com/nsrun/nsrun/internal/fixturehook"
)

// Topology builds spec (see fixture.New) for the test and tears it down in
// tb.Cleanup: links, namespaces (processes inside killed) and /etc/netns
// files. It returns once every link is up and every address usable. Get the
// nodes' namespaces with Namespace, their addresses with IPv4, IPv6 or
// Addrs, and inject faults with Link, Partition and Heal; each lookup
// returns an error listing the names there are if its name is not one.
//
// When the test has failed by cleanup time, the state of every node is
// logged first, as New does for a namespace (and the pause of
// NSTEST_PAUSE_ON_FAILURE applies), with, if links are emulated, the seed
// of their random decisions (set NSRUN_SEED to it to replay them) and
// each direction's impairment and counters.
//
// An invalid spec fails the test; a lack of privilege skips it (or fails it
// under NSTEST_STRICT=1), as New does. Topology is safe in parallel tests:
// each topology has its own uniquely named namespaces.
//
//	f := nstest.Topology(t, fixture.Pair("client", "server"))
//	client, err := f.Namespace("client")
//	...
//	server, err := f.IPv4("server")
//	...
//	conn, err := client.Dial("tcp", net.JoinHostPort(server.String(), "80"))
func Topology(tb testing.TB, spec *fixture.Spec) *fixture.Fixture {
	tb.Helper()
	if err := spec.Validate(); err != nil {
		tb.Fatalf("nstest: %v", err)
	}
	RequirePrivilege(tb)
	f, err := fixture.New(tb.Context(), spec)
	if err != nil {
		tb.Fatalf("nstest: %v", err)
	}
	tb.Cleanup(func() {
		nodes := map[string]*nsrun.Namespace{}
		for _, n := range f.Nodes() {
			nodes[n], _ = f.Namespace(n) // n is one of f's nodes
		}
		var diagram string
		if tb.Failed() {
			if g, err := f.Graph("mermaid"); err == nil {
				diagram = "diagram (Mermaid, live state):\n" + string(g)
			}
			diagram += fixturehook.Report(f) // emulated links: seed, counters
		}
		reportFailure(tb, "topology "+f.Name(), nodes, diagram)
		if err := f.Close(); err != nil {
			tb.Errorf("nstest: %v", err)
		}
	})
	watchTopology(tb, f) // packet capture (see Capture)
	return f
}

// TopologyFile is Topology for a topology file (YAML or JSON, see
// fixture.Load); a file that does not load fails the test.
func TopologyFile(tb testing.TB, path string) *fixture.Fixture {
	tb.Helper()
	spec, err := fixture.Load(path)
	if err != nil {
		tb.Fatalf("nstest: %v", err)
	}
	return Topology(tb, spec)
}
