package netdump_test

import (
	"net/netip"
	"testing"

	"github.com/nsrun/nsrun/fixture"
	"github.com/nsrun/nsrun/internal/netdump"
	"github.com/nsrun/nsrun/nstest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFirewallText: the firewall section lists each rule with its chain
// and counters, and is left out when there are none.
func TestFirewallText(t *testing.T) {
	d := netdump.Dump{Label: "db", Firewall: []netdump.FirewallRule{
		{Chain: "input", Rule: "IPv6 neighbour discovery (always accepted)", Packets: 2, Bytes: 144},
		{Chain: "input", Rule: "runtime#1: drop in tcp/5432 from app", Packets: 3, Bytes: 180},
		{Chain: "postrouting", Rule: "nat: masquerade out eth1", Packets: 12000, Bytes: 1_500_000},
	}}
	assert.Equal(t, `== db
firewall (nftables inet nsrun):
  CHAIN        PKTS   BYTES  RULE
  input        2      144B   IPv6 neighbour discovery (always accepted)
  input        3      180B   runtime#1: drop in tcp/5432 from app
  postrouting  12000  1.5M   nat: masquerade out eth1
`, d.String())
	assert.NotContains(t, netdump.Dump{Label: "x"}.String(), "firewall")
}

// TestIntegrationGatherFirewall: a dump reads the node's rules and their
// hits from the kernel, and has none for a node without a table.
func TestIntegrationGatherFirewall(t *testing.T) {
	spec := fixture.Pair("app", "db")
	spec.Name = "dumpfw"
	spec.Nodes[1].Firewall = []fixture.Rule{{Action: "drop", Direction: "in", Proto: "udp", Ports: []int{5353}, Peer: "app"}}
	f := nstest.Topology(t, spec)
	app, err := f.Namespace("app")
	require.NoError(t, err)
	db, err := f.Namespace("db")
	require.NoError(t, err)
	dst, err := f.IPv4("db")
	require.NoError(t, err)
	c, err := app.Dial("udp", netip.AddrPortFrom(dst, 5353).String())
	require.NoError(t, err)
	for range 3 {
		_, err := c.Write(make([]byte, 100))
		require.NoError(t, err)
	}
	c.Close()

	d := netdump.Gather("db", db)
	assert.Empty(t, d.Errors)
	var rule *netdump.FirewallRule
	for i, r := range d.Firewall {
		if r.Rule == "firewall[0]: drop in udp/5353 from app" {
			rule = &d.Firewall[i]
		}
	}
	require.NotNil(t, rule, "%+v", d.Firewall)
	assert.Equal(t, "input", rule.Chain)
	assert.Equal(t, uint64(3), rule.Packets, "the IPv4 and IPv6 kernel rules summed")
	assert.Equal(t, uint64(3*128), rule.Bytes)
	assert.Contains(t, d.String(), "firewall[0]: drop in udp/5353 from app")
	assert.Empty(t, netdump.Gather("app", app).Firewall)
}
