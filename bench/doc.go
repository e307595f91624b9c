// Command nscompare is nsrun's comparison benchmark: it puts nsrun beside
// the bare syscalls, vishvananda/netns (with vishvananda/netlink), CNI's
// plugins/pkg/testutils, unshare(1) and the ip(8) commands, in interleaved
// rounds (every contender once per round, in a fresh random order, so that
// the machine's noise hits all alike), and prints Markdown tables of
// medians, p90s, ratios and the targets of issue 10.
//
// Run it as root, from this directory:
//
//	go run . -rounds 200
//
// It lives in a module of its own so that the main module does not depend
// on the peers it is compared with. Everything it makes carries the name
// prefix nscmp<PID>-<4 hex digits>- (CNI's namespaces, which CNI names
// itself, are tracked one by one) and is removed at the end, also after a
// failure or Ctrl-C; a final check fails the run if any namespace, mount,
// owner record, /etc/netns entry or child process of the run is left. See
// README.md.
package main
