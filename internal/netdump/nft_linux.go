package netdump

import (
	"errors"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/nsrun/nsrun"
	"golang.org/x/sys/unix"
)

// FirewallTable is the nftables table, of family inet, that holds a
// node's firewall and NAT rules (fixture writes it; a dump lists it). No
// other table is ours, so nothing else is read or changed.
const FirewallTable = "nsrun"

// WithNFT runs fn with an nftables connection whose netlink socket lives
// in ns. The socket is made inside ns.Do (fn runs there too), not through
// nftables.WithNetNSFd, with which mdlayher/socket would switch a thread
// of its own for every request, outside internal/nsthread.
func WithNFT(ns *nsrun.Namespace, fn func(*nftables.Conn) error) error {
	return ns.Do(func() error {
		c, err := nftables.New(nftables.AsLasting())
		if err != nil {
			return fmt.Errorf("open nftables: %w", err)
		}
		defer c.CloseLasting()
		return fn(c)
	})
}

// ReadFirewall lists the rules of FirewallTable in ns with their
// counters, chain by chain in the kernel's order. The kernel rules that one
// rule of ours became (one per address family, peer address, port) carry
// the same comment and are summed into one FirewallRule. Without the
// table there are none.
func ReadFirewall(ns *nsrun.Namespace) ([]FirewallRule, error) {
	var out []FirewallRule
	err := ns.Do(func() (err error) {
		out, err = firewallHere()
		return err
	})
	return out, err
}

// firewallHere is ReadFirewall in the calling thread's namespace (inside
// Do), for Gather, which is there already.
func firewallHere() ([]FirewallRule, error) {
	c, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, fmt.Errorf("open nftables: %w", err)
	}
	defer c.CloseLasting()
	table, err := c.ListTableOfFamily(FirewallTable, nftables.TableFamilyINet)
	if errors.Is(err, unix.ENOENT) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list table: %w", err)
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return nil, fmt.Errorf("list chains: %w", err)
	}
	var out []FirewallRule
	for _, ch := range chains {
		if ch.Table.Name != FirewallTable {
			continue
		}
		rules, err := c.GetRules(table, ch)
		if err != nil {
			return nil, fmt.Errorf("list rules of chain %s: %w", ch.Name, err)
		}
		out = appendRules(out, ch.Name, rules)
	}
	return out, nil
}

// appendRules adds the rules of one chain, summing those with the same
// comment.
func appendRules(out []FirewallRule, chain string, rules []*nftables.Rule) []FirewallRule {
	seen := map[string]int{}
	for _, r := range rules {
		text, ok := userdata.GetString(r.UserData, userdata.TypeComment)
		if !ok {
			text = fmt.Sprintf("handle %d (no comment)", r.Handle)
		}
		var packets, bytes uint64
		for _, e := range r.Exprs {
			if c, ok := e.(*expr.Counter); ok {
				packets += c.Packets
				bytes += c.Bytes
			}
		}
		if i, ok := seen[text]; ok {
			out[i].Packets += packets
			out[i].Bytes += bytes
			continue
		}
		seen[text] = len(out)
		out = append(out, FirewallRule{Chain: chain, Rule: text, Packets: packets, Bytes: bytes})
	}
	return out
}
