// Package netdump describes what a network namespace looks like, for the
// report of a failed test or run: links with their counters, routes,
// neighbours, sockets, queueing disciplines with their statistics, the
// firewall and NAT rules of table inet nsrun with their hit counters, nsids
// and the sysctls that decide forwarding. Everything is read in-process
// through netlink (sock_diag for sockets) and /proc/sys, never by running
// ip or ss. The text form is compact and aligned; the structs are also
// what nsrun --json writes.
//
// Its gathering code is Linux-only; off Linux Gather reports that it is
// not supported.
package netdump

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Dump is one namespace, as Gather found it.
type Dump struct {
	Label      string            `json:"label"`     // topology node name, or the namespace name
	Namespace  string            `json:"namespace"` // its name in the ip netns directory
	Links      []Link            `json:"links"`
	Routes     []Route           `json:"routes"`
	Neighbours []Neighbour       `json:"neighbours,omitempty"`
	Sockets    []Socket          `json:"sockets,omitempty"`
	Qdiscs     []Qdisc           `json:"qdiscs,omitempty"`
	Firewall   []FirewallRule    `json:"firewall,omitempty"` // the rules of nftables table inet nsrun (FirewallTable)
	NSIDs      []NSID            `json:"nsids,omitempty"`
	Sysctls    map[string]string `json:"sysctls,omitempty"`
	Errors     []string          `json:"errors,omitempty"` // what could not be read, and why
}

// Link is one network interface.
type Link struct {
	Name   string   `json:"name"`
	Kind   string   `json:"kind,omitempty"` // veth, bridge, ...
	State  string   `json:"state"`          // operational state: UP, DOWN, LOWERLAYERDOWN, UNKNOWN
	Admin  bool     `json:"admin_up"`       // IFF_UP
	MTU    int      `json:"mtu"`
	MAC    string   `json:"mac,omitempty"`
	Master string   `json:"master,omitempty"`
	Peer   string   `json:"peer,omitempty"` // @ifINDEX or the peer's name, as ip shows it
	Addrs  []string `json:"addresses,omitempty"`
	RX     Counters `json:"rx"`
	TX     Counters `json:"tx"`
}

// Counters are an interface's counters in one direction.
type Counters struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	Errors  uint64 `json:"errors"`
	Dropped uint64 `json:"dropped"`
}

// Route is one route, of any table but local.
type Route struct {
	Dst    string `json:"dst"` // "default" for 0/0
	Via    string `json:"via,omitempty"`
	Dev    string `json:"dev,omitempty"`
	Src    string `json:"src,omitempty"`
	Proto  string `json:"proto,omitempty"`
	Table  int    `json:"table,omitempty"` // omitted for main
	Metric int    `json:"metric,omitempty"`
}

// Neighbour is one ARP or NDP entry.
type Neighbour struct {
	IP    string `json:"ip"`
	MAC   string `json:"mac,omitempty"`
	Dev   string `json:"dev"`
	State string `json:"state"`
}

// Socket is one TCP or UDP socket.
type Socket struct {
	Proto  string `json:"proto"` // tcp, tcp6, udp, udp6
	State  string `json:"state"` // LISTEN, ESTABLISHED, ...; UNCONN for an unconnected udp socket
	Local  string `json:"local"`
	Remote string `json:"remote,omitempty"`
	RecvQ  uint32 `json:"recv_q"`
	SendQ  uint32 `json:"send_q"`
}

// Qdisc is one queueing discipline with its statistics.
type Qdisc struct {
	Dev        string `json:"dev"`
	Kind       string `json:"kind"`
	Handle     string `json:"handle"`
	Parent     string `json:"parent"`
	Packets    uint64 `json:"packets"`
	Bytes      uint64 `json:"bytes"`
	Drops      uint32 `json:"drops"`
	Overlimits uint32 `json:"overlimits"`
	Requeues   uint32 `json:"requeues"`
	Backlog    uint32 `json:"backlog"`
	Qlen       uint32 `json:"qlen"`
	Params     string `json:"params,omitempty"` // rate, delay, loss... when the kind has them
}

// FirewallRule is one rule of a node's firewall or NAT with its hit
// counters (summed over the kernel rules it became).
type FirewallRule struct {
	Chain   string `json:"chain"` // input, output, forward; prerouting (port forwards), postrouting (masquerade)
	Rule    string `json:"rule"`  // its comment: what it does, e.g. "firewall[0]: drop in tcp/5432 from app"
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// NSID is one peer namespace that has an id here.
type NSID struct {
	NSID int    `json:"nsid"`
	Peer string `json:"peer,omitempty"` // its name, if it has one
}

// Sysctls lists the sysctls a dump reads, relative to /proc/sys.
var Sysctls = []string{
	"net/ipv4/ip_forward",
	"net/ipv6/conf/all/forwarding",
	"net/ipv4/conf/all/rp_filter",
	"net/ipv6/conf/all/disable_ipv6",
}

// String is the dump as WriteTo writes it.
func (d Dump) String() string {
	var b strings.Builder
	_, _ = d.WriteTo(&b)
	return b.String()
}

// WriteTo writes the dump as text: a heading, then one aligned table per
// kind of thing, empty ones left out.
func (d Dump) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	head := d.Label
	if d.Namespace != "" && d.Namespace != d.Label {
		head = fmt.Sprintf("%s (namespace %s)", d.Label, d.Namespace)
	}
	fmt.Fprintf(cw, "== %s\n", head)
	tw := tabwriter.NewWriter(cw, 0, 4, 2, ' ', 0)
	section := func(title, header string, rows [][]string) {
		if len(rows) == 0 {
			return
		}
		fmt.Fprintf(tw, "%s:\n", title)
		fmt.Fprintf(tw, "  %s\n", header)
		for _, r := range rows {
			fmt.Fprintf(tw, "  %s\n", strings.Join(r, "\t"))
		}
		_ = tw.Flush()
	}
	var rows [][]string
	for _, l := range d.Links {
		name := l.Name
		if l.Peer != "" {
			name += "@" + l.Peer
		}
		state := l.State
		if !l.Admin {
			state += ",admin-down"
		}
		rows = append(rows, []string{name, dash(l.Kind), state, fmt.Sprint(l.MTU), dash(l.MAC), dash(l.Master),
			counters(l.RX), counters(l.TX), dash(strings.Join(l.Addrs, " "))})
	}
	section("links", "NAME\tKIND\tSTATE\tMTU\tMAC\tMASTER\tRX pkts/bytes/err/drop\tTX pkts/bytes/err/drop\tADDRESSES", rows)
	rows = nil
	for _, r := range d.Routes {
		table := ""
		if r.Table != 0 {
			table = fmt.Sprint(r.Table)
		}
		rows = append(rows, []string{r.Dst, dash(r.Via), dash(r.Dev), dash(r.Src), dash(r.Proto), dash(metric(r.Metric)), dash(table)})
	}
	section("routes", "DST\tVIA\tDEV\tSRC\tPROTO\tMETRIC\tTABLE", rows)
	rows = nil
	for _, n := range d.Neighbours {
		rows = append(rows, []string{n.IP, dash(n.MAC), n.Dev, n.State})
	}
	section("neighbours", "IP\tMAC\tDEV\tSTATE", rows)
	rows = nil
	for _, s := range d.Sockets {
		rows = append(rows, []string{s.Proto, s.State, s.Local, dash(s.Remote), fmt.Sprint(s.RecvQ), fmt.Sprint(s.SendQ)})
	}
	section("sockets", "PROTO\tSTATE\tLOCAL\tREMOTE\tRECV-Q\tSEND-Q", rows)
	rows = nil
	for _, q := range d.Qdiscs {
		rows = append(rows, []string{q.Dev, q.Kind, q.Handle, q.Parent, fmt.Sprint(q.Packets), fmt.Sprint(q.Bytes),
			fmt.Sprint(q.Drops), fmt.Sprint(q.Overlimits), fmt.Sprint(q.Backlog), dash(q.Params)})
	}
	section("qdiscs", "DEV\tKIND\tHANDLE\tPARENT\tPKTS\tBYTES\tDROPS\tOVERLIMITS\tBACKLOG\tPARAMS", rows)
	rows = nil
	for _, r := range d.Firewall {
		rows = append(rows, []string{r.Chain, fmt.Sprint(r.Packets), bytesize(r.Bytes), r.Rule})
	}
	section("firewall (nftables inet nsrun)", "CHAIN\tPKTS\tBYTES\tRULE", rows)
	rows = nil
	for _, n := range d.NSIDs {
		rows = append(rows, []string{fmt.Sprint(n.NSID), dash(n.Peer)})
	}
	section("nsids", "NSID\tPEER", rows)
	if len(d.Sysctls) > 0 {
		keys := make([]string, 0, len(d.Sysctls))
		for k := range d.Sysctls {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = strings.ReplaceAll(k, "/", ".") + "=" + d.Sysctls[k]
		}
		fmt.Fprintf(cw, "sysctls: %s\n", strings.Join(parts, " "))
	}
	for _, e := range d.Errors {
		fmt.Fprintf(cw, "could not read: %s\n", e)
	}
	return cw.n, cw.err
}

// dash stands for an empty cell.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func metric(m int) string {
	if m == 0 {
		return ""
	}
	return fmt.Sprint(m)
}

// counters is pkts/bytes/err/drop, bytes in short units.
func counters(c Counters) string {
	return fmt.Sprintf("%d/%s/%d/%d", c.Packets, bytesize(c.Bytes), c.Errors, c.Dropped)
}

// bytesize writes n as 980B, 1.2K, 3.4M, 5.6G.
func bytesize(n uint64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%dB", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1fK", float64(n)/1e3)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1fG", float64(n)/1e9)
}

// countingWriter counts what it writes and keeps the first error.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}
