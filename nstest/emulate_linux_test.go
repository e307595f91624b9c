package nstest_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/nsrun/nsrun/fixture"
	"github.com/nsrun/nsrun/internal/testenv"
	"github.com/nsrun/nsrun/nstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIntegrationFailureDumpEmulated: a failed test's report has the seed
// of its emulated links, with each direction's impairment and counters.
func TestIntegrationFailureDumpEmulated(t *testing.T) {
	testenv.RequirePrivilege(t)
	names, out, code := runHelperOutput(t, "TestHelperFailsEmulated")
	assert.Equal(t, 1, code, out)
	requireNoneLeft(t, names)
	for _, want := range []string{
		"emulated links (seed 4242; NSRUN_SEED=4242 makes the same random decisions):",
		"client/eth0 -> server/eth0 (links[0]; impairment: loss 100%)",
		"server/eth0 -> client/eth0 (links[0]; impairment: none)",
	} {
		assert.Contains(t, out, want)
	}
	assert.Regexp(t, `lost ([5-9]|\d\d+),`, out, "the datagrams (and anything else sent meanwhile)")
}

func TestHelperFailsEmulated(t *testing.T) {
	helperOnly(t)
	spec := fixture.Pair("client", "server")
	spec.Links[0].Emulated = true
	spec.Seed = 4242
	f := nstest.Topology(t, spec)
	client, err := f.Namespace("client")
	require.NoError(t, err)
	t.Log("NAMESPACE", client.Name())
	link, err := f.Link("client", "eth0")
	require.NoError(t, err)
	addr, err := f.IPv4("server")
	require.NoError(t, err)
	udp, err := client.Dial("udp", netip.AddrPortFrom(addr, 9).String())
	require.NoError(t, err)
	_, _ = udp.Write([]byte("ARP first")) // the neighbour is resolved before the loss
	require.Eventually(t, func() bool {
		c, err := link.Counters()
		return err == nil && c[0].Passed >= 2 // the ARP request and the datagram
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, link.ImpairFrom("client", fixture.Impairment{Loss: 100}))
	for range 5 {
		_, _ = udp.Write([]byte("lost"))
	}
	require.Eventually(t, func() bool {
		c, err := link.Counters()
		return err == nil && c[0].Lost >= 5
	}, 5*time.Second, 10*time.Millisecond)
	t.Error("failing on purpose")
}
