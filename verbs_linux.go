package nsrun

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/nsrun/nsrun/internal/nsthread"
	"github.com/nsrun/nsrun/internal/owner"
	"github.com/nsrun/nsrun/internal/procscan"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The functions in this file are the verbs of ip-netns(8). Where a verb
// depends on "the current namespace" (list's ids, set, list-id), it is the
// calling thread's: the host namespace, except inside Do or nstest.Run.

// List returns the named namespaces in Dir, sorted by name, with their ids
// in the current namespace. Files that are not namespaces (left by a crash
// between create and mount) are listed with NoNSID, as iproute2 does.
func List() ([]Entry, error) {
	entries, err := os.ReadDir(Dir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list network namespaces: %w", err)
	}
	var out []Entry
	for _, e := range entries {
		out = append(out, Entry{Name: e.Name(), NSID: nsidOf(filepath.Join(Dir(), e.Name()))})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// nsidOf returns the current namespace's id for the namespace at path.
func nsidOf(path string) int {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return NoNSID
	}
	defer unix.Close(fd)
	id, err := netlink.GetNetNsIdByFd(fd)
	if err != nil {
		return NoNSID
	}
	return id
}

// DeleteNamed removes the namespace called name, as `ip netns del` does,
// but first kills the processes inside as ip-netns(8) advises (see
// (*Namespace).Delete), and removes our owner record if there is one. A
// file left by a crash (not a namespace) is removed too. The error matches
// os.ErrNotExist if there is no such name.
func DeleteNamed(name string) error {
	if err := ValidateName(name); err != nil {
		return fmt.Errorf("delete network namespace: %w", err)
	}
	path := filepath.Join(Dir(), name)
	if _, err := os.Lstat(path); err != nil {
		return fmt.Errorf("delete network namespace %s: %w", name, err)
	}
	n, err := open(name, path)
	if err != nil {
		// Not (or no longer) a namespace: remove the stale file.
		if err := errors.Join(unname(path), owner.Remove(name)); err != nil {
			return fmt.Errorf("delete network namespace %s: %w", name, err)
		}
		return nil
	}
	return n.Delete()
}

// SetNSID gives the namespace called name the id nsid in the current
// namespace, as `ip netns set NAME NSID|auto` (NoNSID for auto: the kernel
// picks a free id). See
// (*Namespace).SetNSID for ids between two namespaces.
func SetNSID(name string, nsid int) error {
	n, err := Open(name)
	if err != nil {
		return fmt.Errorf("set nsid: %w", err)
	}
	defer n.Close()
	return setNSID(&netlink.Handle{}, n.fd, nsid, name, "the current namespace")
}

// Identify returns the names of the namespace that process pid is in, as
// `ip netns identify PID`; none if it has no name.
func Identify(pid int) ([]string, error) {
	id, err := nsthread.Stat(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return nil, fmt.Errorf("identify network namespace of pid %d: %w", pid, err)
	}
	entries, err := os.ReadDir(Dir())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("identify network namespace of pid %d: %w", pid, err)
	}
	var names []string
	for _, e := range entries {
		if got, err := nsthread.Stat(filepath.Join(Dir(), e.Name())); err == nil && got == id {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// Pids returns the processes, other than the calling one, with a thread in
// the namespace called name, as `ip netns pids NAME`.
func Pids(name string) ([]int, error) {
	n, err := Open(name)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	defer n.Close()
	return procscan.In(procscan.Set{n.id: true})
}

// Pids returns the processes, other than the calling one, with a thread in n.
func (n *Namespace) Pids() ([]int, error) { return procscan.In(procscan.Set{n.id: true}) }

// Attributes of RTM_*NSID messages (linux/net_namespace.h).
const (
	netnsaNSID        = 1
	netnsaTargetNSID  = 4
	netnsaCurrentNSID = 5
)

// ListNSIDs returns the nsids of the current namespace, sorted by id, as
// `ip netns list-id [target-nsid TARGET] [nsid NSID]`: with a target other
// than NoNSID, the ids held by the namespace that has id target in the
// current one instead; with an nsid other than NoNSID, only the entry for
// the peer that has this id in the current namespace.
func ListNSIDs(target, nsid int) ([]NSIDEntry, error) {
	req := nl.NewNetlinkRequest(unix.RTM_GETNSID, unix.NLM_F_DUMP)
	req.AddData(nl.NewRtGenMsg())
	if target != NoNSID {
		b := make([]byte, 4)
		binary.NativeEndian.PutUint32(b, uint32(int32(target)))
		req.AddData(nl.NewRtAttr(netnsaTargetNSID, b))
	}
	// The kernel reads a dump request's attributes (the target) only from
	// a socket with strict checking, as iproute2 opens it. Passing no
	// namespace to GetNetlinkSocketAt makes the socket where the calling
	// thread is, without switching it.
	s, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("list nsids: %w", err)
	}
	defer s.Close()
	if err := unix.SetsockoptInt(s.GetFd(), unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1); err != nil {
		return nil, fmt.Errorf("list nsids: enable strict checking: %w", err)
	}
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: {Socket: s}}
	msgs, err := req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWNSID)
	if err != nil {
		return nil, fmt.Errorf("list nsids: %w", err)
	}
	names := map[int]string{}
	if list, err := List(); err == nil {
		for _, e := range list {
			if e.NSID >= 0 {
				names[e.NSID] = e.Name
			}
		}
	}
	var out []NSIDEntry
	for _, m := range msgs {
		attrs, err := nl.ParseRouteAttr(m[nl.DeserializeRtGenMsg(m).Len():])
		if err != nil {
			return nil, fmt.Errorf("list nsids: %w", err)
		}
		e := NSIDEntry{NSID: NoNSID, CurrentNSID: NoNSID}
		for _, a := range attrs {
			v := int(int32(binary.NativeEndian.Uint32(a.Value)))
			switch a.Attr.Type {
			case netnsaNSID:
				e.NSID = v
			case netnsaCurrentNSID:
				e.CurrentNSID = v
			}
		}
		own := e.NSID
		if target != NoNSID {
			own = e.CurrentNSID
		}
		if nsid != NoNSID && own != nsid {
			continue
		}
		e.Name = names[own]
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NSID < out[j].NSID })
	return out, nil
}
