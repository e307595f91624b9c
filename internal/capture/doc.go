// Package capture records the packets of every interface of a set of
// network namespaces into one time-ordered pcapng file, for nstest (a test
// that fails keeps its capture) and nsrun --capture.
//
// # How
//
// Each namespace gets one AF_PACKET socket, made inside it and bound to no
// interface, so it sees every interface there, those created later
// included; the kernel tells each packet's interface (ifindex) and
// direction. Packets reach us through a TPACKET_V3 ring mapped into this
// process: the kernel fills blocks of packets and wakes the reader once per
// block (when full, or after a few milliseconds), instead of once per
// packet, which keeps the capture's cost low under load. A one-instruction
// BPF filter cuts each packet to the snap length in the kernel, before it is
// copied. Interface names come from rtnetlink in the same namespace: the
// socket follows link announcements, and asks when an unknown index shows
// up. One goroutine per namespace drains its ring; it waits in the Go
// runtime's poller, so an idle capture holds no thread.
//
// # Bounds
//
// Packets are kept in memory, encoded as pcapng blocks, in chunks whose
// total size stays under Config.Limit: when a new chunk would pass it, the
// oldest chunk goes, and its packets are counted as dropped. Nothing is
// written to disk until WriteTo or WriteFile, which put the packets of all
// namespaces in time order; a test that passes writes nothing at all. A
// reader that falls behind never slows the namespaces down: when its ring is
// full the kernel drops packets for it and counts them. The file's section
// header carries a comment saying how many packets were dropped, and why.
//
// # File
//
// One pcapng section: a section header, one interface block per interface
// seen, named "LABEL/IFNAME" (LABEL is what Add was given: a topology node's
// name, or a namespace's), with nanosecond timestamps, then the packets in
// time order as enhanced packet blocks. Every interface block has link type
// Ethernet and the same snap length, as libpcap (tcpdump) requires of all
// interfaces of a file; packets of interfaces without an Ethernet header
// (tun, wireguard, IP tunnels) get a made-up one, with zero addresses and
// the packet's protocol as EtherType. VLAN tags the kernel took off (veth
// and most drivers strip them) are put back. As with tcpdump on Linux,
// outgoing packets on lo are left out (each is seen again as incoming), and
// the checksums of outgoing packets may be unfinished (offloaded).
package capture
