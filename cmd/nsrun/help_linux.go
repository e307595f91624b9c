package main

const runUsage = `
nsrun runs a command in a throwaway network namespace, then removes it.

Usage:
  nsrun [flags] [--] COMMAND [ARG...]
  nsrun [flags] --topology FILE [--node NODE] [--] COMMAND [ARG...]
  nsrun exec NAME [--] COMMAND [ARG...]   run in an existing namespace
  nsrun ls [--json]                      namespaces made by nsrun and nstest
  nsrun gc [--dry-run]                   remove those whose owner died
  nsrun up FILE | nsrun down NAME        keep a topology up between CI steps
  nsrun schema                           JSON Schema of topology files
  nsrun graph [--format mermaid] FILE    draw a topology file (DOT or Mermaid)
  nsrun help SUBCOMMAND                  help on a subcommand

The command runs in a fresh named namespace (visible to ip netns) with
loopback up, in its own PID and mount namespaces: /sys shows the
namespace's links, /etc/netns/NAME/* is bound over /etc, and every process
it starts dies when it ends. NSRUN_NETNS names the namespace; with a
topology, NSRUN_* variables describe every node and address. Flags end at
the first word that is not a flag, so go test -exec nsrun works. To run a
command named like a subcommand (ls, gc, ...), put -- before it.

Signals: SIGINT, SIGTERM, SIGHUP and SIGQUIT are forwarded; a second
SIGINT, or --grace after SIGTERM, kills everything. Run through sudo, the
command runs as the calling user (SUDO_UID/SUDO_GID) with the caller's own
environment, PATH included, as it was before sudo reset it; --user runs it
as another user (with nsrun's environment), --as-root keeps root.

Without root (no CAP_SYS_ADMIN), nsrun runs rootless: in a user namespace
of its own, with private namespace, record and /etc/netns directories, so
the names are visible inside the run only (ip netns list there shows them)
and everything ends with it. The command runs as you (uid and gid);
--as-root makes it root of the run's user namespace, which is still you
outside. --user and --keep need root. A rootless nsrun up leaves one
process of yours holding the topology, which nsrun exec, ls and down reach
(see nsrun up --help). Where user namespaces are blocked, nsrun says by
what, and the command that lifts it.

In GitHub Actions (GITHUB_STEP_SUMMARY set), a run that fails appends a
section to the job's summary page: the command, how it ended, how long it
took, the topology as a Mermaid diagram with its state at the end, and the
state of every namespace. A run that succeeds adds nothing.

Packet capture: --capture DIR records every interface of every namespace
of the run (each node of a topology; interfaces made later too) into one
time-ordered pcapng file, DIR/NAME.pcapng (NAME: the namespace's or the
topology's), with one interface per NODE/IFACE, for tcpdump, tshark or
Wireshark. It is written only if the command fails (or with
--capture-keep), and nsrun then names it on stderr. Packets wait in
memory, at most --capture-limit of them (the oldest are dropped, and the
file says how many), cut to --capture-snaplen bytes each; the command
never waits for the capture (packets it cannot keep up with are dropped,
and counted). Namespaces the command makes itself are not captured: for
Go tests, NSTEST_CAPTURE=DIR captures those (see package nstest).

Exit status: the command's own; 128+N if it died from signal N; 124 after
--timeout; 125 if nsrun itself failed (the reason is on stderr, prefixed
"nsrun:"); 126 if the command is not executable; 127 if it is not found.

Examples:
  sudo nsrun -- pytest -q tests/
  sudo go test -exec nsrun ./...
  sudo nsrun --timeout 5m --json summary.json -- ./integration.sh
  sudo nsrun --topology lab.yaml --node client -- curl http://server/
  sudo nsrun --keep -- ./setup-server.sh    # prints how to enter and remove
  sudo nsrun --capture /tmp/pcap --topology lab.yaml -- ./e2e.sh   # pcapng kept if it fails
  nsrun -- pytest -q tests/                 # without root: rootless
  go test -exec 'nsrun --as-root' ./...     # rootless, test binaries as root of the run
`

const execUsage = `
nsrun exec runs a command in an existing named namespace: ip netns exec done
right. It gets a new mount namespace with slave propagation, a fresh sysfs
showing the namespace's links, and each /etc/netns/NAME/* bound over /etc/*
(symlinks such as resolv.conf resolved, nothing piled onto the host); by
default also its own PID namespace, so nothing it starts outlives it.

Usage:
  nsrun exec [flags] NAME [--] COMMAND [ARG...]

Examples:
  sudo nsrun exec blue -- ip addr
  sudo nsrun exec --user alice blue -- curl http://10.0.0.2/
  sudo nsrun exec --no-pidns blue -- dnsmasq   # let a daemon outlive the call
  nsrun exec "$NSRUN_NS_CLIENT" -- ping -c1 server   # without root: a node of your rootless nsrun up
`

const lsUsage = `
nsrun ls lists the namespaces made by nsrun, nstest and fixtures (those with
an owner record), with owner pid, whether the owner is alive, age, and the
number of processes inside. Namespaces made by others are not listed.
Without root it lists the namespaces of your rootless topologies (nsrun up).

Usage:
  nsrun ls [--json]

Examples:
  nsrun ls
  nsrun ls --json | jq '.[] | select(.owner == "dead") | .name'
`

const gcUsage = `
nsrun gc removes leftovers: namespaces made by nsrun, nstest or a fixture
whose owner process has died (a SIGKILLed run, a crashed test), killing the
processes inside first. It never touches a namespace it did not make, nor
one kept on purpose (nsrun --keep, nsrun up): remove those with nsrun down.
Every nsrun run does this at start. Without root it removes the records of
your rootless topologies whose holder process is gone (killed, or the
machine rebooted); their namespaces went with it.

Usage:
  nsrun gc [--dry-run]

Examples:
  sudo nsrun gc --dry-run
  sudo nsrun gc
`

const upUsage = `
nsrun up builds the topology described in FILE (YAML or JSON) and leaves it
up, for CI jobs of several steps; nsrun down NAME removes it again. It
prints the topology's NSRUN_* variables (namespace and addresses of every
node) as KEY=VALUE lines on stdout, and how to enter and remove it on
stderr.

A topology with emulated links is held the same way, as root too: the
holder runs their relays until nsrun down.

Without root, nsrun up builds the topology in a rootless run (see nsrun
--help) and leaves one process of yours, the holder, to keep it: its
namespaces are visible to nsrun exec, ls and down run by you (the holder
runs them inside for you), not to ip netns. The holder's socket and record
are in $XDG_RUNTIME_DIR/nsrun (or /tmp/nsrun-UID). Each rootless topology
has a holder and a user namespace of its own, so topologies cannot be
linked to each other; nsrun down ends the holder, and nsrun gc cleans up
after a holder that was killed.

Usage:
  nsrun up [flags] FILE

Examples:
  sudo nsrun up examples/pair.yaml >> "$GITHUB_ENV"
  sudo nsrun exec "$NSRUN_NS_CLIENT" -- ping -c1 server
  sudo nsrun down pair
  nsrun up examples/pair.yaml >> "$GITHUB_ENV"   # without root
`

const downUsage = `
nsrun down removes what nsrun up or nsrun --keep left up: a topology by its
name, or a single kept namespace by its name. Without root it removes a
rootless topology (nsrun up) and ends its holder.

Usage:
  nsrun down NAME...

Examples:
  sudo nsrun down lab
  sudo nsrun down nsrun-3f2a9c1b7d40
`
