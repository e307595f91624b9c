package netdump

import (
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/nsrun/nsrun"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Gather describes ns, labelled label. It never fails as a whole: what it
// cannot read is named in Errors, and the rest is still there. It does not
// change ns and may run while processes use it.
func Gather(label string, ns *nsrun.Namespace) Dump {
	d := Dump{Label: label, Namespace: ns.Name()}
	fail := func(what string, err error) { d.Errors = append(d.Errors, fmt.Sprintf("%s: %v", what, err)) }
	h, err := ns.Netlink()
	if err != nil {
		fail("netlink", err)
		return d
	}
	defer h.Close()
	names := map[int]string{}
	links, err := h.LinkList()
	if err != nil {
		fail("links", err)
	}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	addrs, err := h.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		fail("addresses", err)
	}
	byLink := map[int][]string{}
	for _, a := range addrs {
		byLink[a.LinkIndex] = append(byLink[a.LinkIndex], a.IPNet.String())
	}
	for _, l := range links {
		d.Links = append(d.Links, linkOf(l, names, byLink[l.Attrs().Index]))
	}
	if d.Routes, err = routes(h, names); err != nil {
		fail("routes", err)
	}
	if d.Neighbours, err = neighbours(h, names); err != nil {
		fail("neighbours", err)
	}
	if d.Qdiscs, err = qdiscs(h, names); err != nil {
		fail("qdiscs", err)
	}
	d.Sysctls = map[string]string{}
	err = ns.Do(func() error {
		// A Handle asked for a netlink family it was not made with opens
		// the socket wherever the calling thread is: sock_diag gets a
		// handle of its own, made here, inside.
		diag, err := netlink.NewHandle(unix.NETLINK_INET_DIAG)
		if err != nil {
			fail("sockets", err)
		} else {
			if d.Sockets, err = sockets(diag); err != nil {
				fail("sockets", err)
			}
			diag.Close()
		}
		if d.Firewall, err = firewallHere(); err != nil {
			fail("firewall", err)
		}
		ids, err := nsrun.ListNSIDs(nsrun.NoNSID, nsrun.NoNSID)
		if err != nil {
			fail("nsids", err)
		}
		for _, id := range ids {
			d.NSIDs = append(d.NSIDs, NSID{NSID: id.NSID, Peer: id.Name})
		}
		for _, k := range Sysctls {
			b, err := os.ReadFile("/proc/sys/" + k)
			if err == nil {
				d.Sysctls[k] = strings.TrimSpace(string(b))
			}
		}
		return nil
	})
	if err != nil {
		fail("nsids and sysctls", err)
	}
	sort.Slice(d.NSIDs, func(i, j int) bool { return d.NSIDs[i].NSID < d.NSIDs[j].NSID })
	return d
}

// GatherAll gathers every namespace of nodes (label -> namespace) in
// parallel and returns the dumps sorted by label.
func GatherAll(nodes map[string]*nsrun.Namespace) []Dump {
	out := make([]Dump, 0, len(nodes))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for label, ns := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := Gather(label, ns)
			mu.Lock()
			out = append(out, d)
			mu.Unlock()
		}()
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool { return out[i].Label < out[j].Label })
	return out
}

// linkOf describes l.
func linkOf(l netlink.Link, names map[int]string, addrs []string) Link {
	a := l.Attrs()
	out := Link{
		Name: a.Name, Kind: l.Type(), State: strings.ToUpper(a.OperState.String()), Admin: a.Flags&net.FlagUp != 0,
		MTU: a.MTU, Master: names[a.MasterIndex], Addrs: addrs,
	}
	if out.Kind == "device" {
		out.Kind = "" // lo, and devices netlink has no type for
	}
	if len(a.HardwareAddr) > 0 && a.Name != "lo" {
		out.MAC = a.HardwareAddr.String()
	}
	if a.ParentIndex != 0 {
		out.Peer = names[a.ParentIndex]
		if out.Peer == "" || a.NetNsID >= 0 {
			out.Peer = fmt.Sprintf("if%d", a.ParentIndex) // in another namespace
		}
	}
	if s := a.Statistics; s != nil {
		out.RX = Counters{Packets: s.RxPackets, Bytes: s.RxBytes, Errors: s.RxErrors, Dropped: s.RxDropped}
		out.TX = Counters{Packets: s.TxPackets, Bytes: s.TxBytes, Errors: s.TxErrors, Dropped: s.TxDropped}
	}
	return out
}

// routes lists the routes of every table but local, leaving out the
// IPv6 link-local and multicast routes every interface has.
func routes(h *netlink.Handle, names map[int]string) ([]Route, error) {
	rs, err := h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, err
	}
	var out []Route
	for _, r := range rs {
		if r.Table == unix.RT_TABLE_LOCAL {
			continue
		}
		dst := "default"
		if r.Dst != nil {
			if r.Dst.IP.IsLinkLocalUnicast() || r.Dst.IP.IsMulticast() {
				continue
			}
			dst = r.Dst.String()
		}
		rt := Route{Dst: dst, Dev: names[r.LinkIndex], Proto: r.Protocol.String(), Metric: r.Priority}
		if r.Gw != nil {
			rt.Via = r.Gw.String()
		}
		if r.Src != nil {
			rt.Src = r.Src.String()
		}
		if len(r.MultiPath) > 0 {
			var hops []string
			for _, nh := range r.MultiPath {
				hops = append(hops, fmt.Sprintf("%s@%s", nh.Gw, names[nh.LinkIndex]))
			}
			rt.Via = strings.Join(hops, ",")
		}
		if r.Table != unix.RT_TABLE_MAIN {
			rt.Table = r.Table
		}
		out = append(out, rt)
	}
	return out, nil
}

// neighbourStates names the NUD_* states.
var neighbourStates = []struct {
	bit  int
	name string
}{
	{unix.NUD_INCOMPLETE, "INCOMPLETE"}, {unix.NUD_REACHABLE, "REACHABLE"}, {unix.NUD_STALE, "STALE"},
	{unix.NUD_DELAY, "DELAY"}, {unix.NUD_PROBE, "PROBE"}, {unix.NUD_FAILED, "FAILED"},
	{unix.NUD_NOARP, "NOARP"}, {unix.NUD_PERMANENT, "PERMANENT"},
}

// neighbours lists the ARP and NDP entries, leaving out multicast ones.
func neighbours(h *netlink.Handle, names map[int]string) ([]Neighbour, error) {
	ns, err := h.NeighList(0, netlink.FAMILY_ALL)
	if err != nil {
		return nil, err
	}
	var out []Neighbour
	for _, n := range ns {
		if n.IP == nil || n.IP.IsMulticast() {
			continue
		}
		var states []string
		for _, s := range neighbourStates {
			if n.State&s.bit != 0 {
				states = append(states, s.name)
			}
		}
		nb := Neighbour{IP: n.IP.String(), Dev: names[n.LinkIndex], State: strings.Join(states, ",")}
		if len(n.HardwareAddr) > 0 {
			nb.MAC = n.HardwareAddr.String()
		}
		out = append(out, nb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Dev+out[i].IP < out[j].Dev+out[j].IP })
	return out, nil
}

// tcpStates names the kernel's TCP states (include/net/tcp_states.h).
var tcpStates = map[uint8]string{
	1: "ESTABLISHED", 2: "SYN-SENT", 3: "SYN-RECV", 4: "FIN-WAIT-1", 5: "FIN-WAIT-2", 6: "TIME-WAIT",
	7: "CLOSE", 8: "CLOSE-WAIT", 9: "LAST-ACK", 10: "LISTEN", 11: "CLOSING",
}

// sockets lists the TCP and UDP sockets, through sock_diag.
func sockets(h *netlink.Handle) ([]Socket, error) {
	var out []Socket
	var errs []string
	for _, fam := range []struct {
		af     uint8
		suffix string
	}{{unix.AF_INET, ""}, {unix.AF_INET6, "6"}} {
		tcp, err := h.SocketDiagTCP(fam.af)
		if err != nil {
			errs = append(errs, fmt.Sprintf("tcp%s: %v", fam.suffix, err))
		}
		for _, s := range tcp {
			out = append(out, socketOf(s, "tcp"+fam.suffix, false))
		}
		udp, err := h.SocketDiagUDP(fam.af)
		if err != nil {
			errs = append(errs, fmt.Sprintf("udp%s: %v", fam.suffix, err))
		}
		for _, s := range udp {
			out = append(out, socketOf(s, "udp"+fam.suffix, true))
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Proto != out[j].Proto {
			return out[i].Proto < out[j].Proto
		}
		return out[i].Local < out[j].Local
	})
	if len(errs) > 0 {
		return out, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return out, nil
}

// socketOf describes one socket_diag answer.
func socketOf(s *netlink.Socket, proto string, udp bool) Socket {
	state := tcpStates[s.State]
	if udp {
		state = "UNCONN"
		if s.State == 1 {
			state = "ESTABLISHED"
		}
	}
	if state == "" {
		state = fmt.Sprint(s.State)
	}
	out := Socket{
		Proto: proto, State: state, RecvQ: s.RQueue, SendQ: s.WQueue,
		Local: net.JoinHostPort(ipString(s.ID.Source), fmt.Sprint(s.ID.SourcePort)),
	}
	if s.ID.DestinationPort != 0 {
		out.Remote = net.JoinHostPort(ipString(s.ID.Destination), fmt.Sprint(s.ID.DestinationPort))
	}
	return out
}

// ipString writes an unspecified address as *.
func ipString(ip net.IP) string {
	if ip == nil || ip.IsUnspecified() {
		return "*"
	}
	return ip.String()
}

// qdiscs lists the queueing disciplines with their statistics, leaving
// out noqueue (what lo and veth have by default: nothing to tell).
func qdiscs(h *netlink.Handle, names map[int]string) ([]Qdisc, error) {
	qs, err := h.QdiscList(nil)
	if err != nil {
		return nil, err
	}
	var out []Qdisc
	for _, q := range qs {
		a := q.Attrs()
		if q.Type() == "noqueue" {
			continue
		}
		qd := Qdisc{
			Dev: names[a.LinkIndex], Kind: q.Type(),
			Handle: netlink.HandleStr(a.Handle), Parent: netlink.HandleStr(a.Parent), Params: params(q),
		}
		if s := a.Statistics; s != nil {
			if s.Basic != nil {
				qd.Packets, qd.Bytes = uint64(s.Basic.Packets), s.Basic.Bytes
			}
			if s.Queue != nil {
				qd.Drops, qd.Overlimits, qd.Requeues = s.Queue.Drops, s.Queue.Overlimits, s.Queue.Requeues
				qd.Backlog, qd.Qlen = s.Queue.Backlog, s.Queue.Qlen
			}
		}
		out = append(out, qd)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Dev < out[j].Dev })
	return out, nil
}

// params describes the settings of the qdiscs that impair or shape.
func params(q netlink.Qdisc) string {
	switch q := q.(type) {
	case *netlink.Tbf:
		return fmt.Sprintf("rate %s burst %dB limit %dB", bitrate(q.Rate*8), netlink.Xmitsize(q.Rate, q.Buffer), q.Limit)
	case *netlink.Netem:
		var p []string
		if q.Latency != 0 {
			p = append(p, fmt.Sprintf("delay %dus", q.Latency))
		}
		if q.Jitter != 0 {
			p = append(p, fmt.Sprintf("jitter %dus", q.Jitter))
		}
		if q.Loss != 0 {
			p = append(p, fmt.Sprintf("loss %.2f%%", float64(q.Loss)*100/float64(^uint32(0))))
		}
		if q.Rate64 != 0 {
			p = append(p, "rate "+bitrate(q.Rate64*8))
		}
		return strings.Join(p, " ")
	case *netlink.Htb:
		return fmt.Sprintf("default %x", q.Defcls)
	}
	return ""
}

// bitrate writes bits per second as tc does (kbit, Mbit, Gbit).
func bitrate(bps uint64) string {
	switch {
	case bps >= 1e9 && bps%1e6 == 0:
		return fmt.Sprintf("%gGbit", float64(bps)/1e9)
	case bps >= 1e6:
		return fmt.Sprintf("%gMbit", float64(bps)/1e6)
	case bps >= 1e3:
		return fmt.Sprintf("%gKbit", float64(bps)/1e3)
	}
	return fmt.Sprintf("%dbit", bps)
}
