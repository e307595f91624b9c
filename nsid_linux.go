package nsrun

import (
	"errors"
	"fmt"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// NSID returns the id that n has for peer: the number n's links use for
// peer in IFLA_LINK_NETNSID, or NoNSID if n has none for it yet.
func (n *Namespace) NSID(peer *Namespace) (int, error) {
	h, err := n.Netlink()
	if err != nil {
		return NoNSID, err
	}
	pfd, err := peer.fdOrErr()
	if err != nil {
		return NoNSID, err
	}
	id, err := h.GetNetNsIdByFd(pfd)
	if err != nil {
		return NoNSID, fmt.Errorf("get nsid of %s in %s: %w", peer.name, n.name, err)
	}
	return id, nil
}

// SetNSID gives peer the id nsid in n (NoNSID lets the kernel choose). If
// peer already has an id in n, SetNSID succeeds when it is nsid (or nsid is
// NoNSID) and fails otherwise: ids cannot change once assigned, and the
// kernel assigns one by itself when a veth peer is made in another
// namespace, so set ids before making links.
func (n *Namespace) SetNSID(peer *Namespace, nsid int) error {
	if nsid < NoNSID {
		return fmt.Errorf("set nsid of %s in %s: invalid id %d", peer.name, n.name, nsid)
	}
	h, err := n.Netlink()
	if err != nil {
		return err
	}
	pfd, err := peer.fdOrErr()
	if err != nil {
		return err
	}
	return setNSID(h, pfd, nsid, peer.name, n.name)
}

// setNSID sets the id through handle h; "already set to the same id" and,
// for NoNSID, "already set" are success.
func setNSID(h *netlink.Handle, peerFd, nsid int, peer, in string) error {
	err := h.SetNetNsIdByFd(peerFd, nsid)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EEXIST) {
		cur, gerr := h.GetNetNsIdByFd(peerFd)
		if gerr == nil && cur >= 0 && (nsid == NoNSID || cur == nsid) {
			return nil
		}
		if gerr == nil && cur >= 0 {
			return fmt.Errorf("set nsid of %s in %s to %d: already %d: %w", peer, in, nsid, cur, err)
		}
	}
	return fmt.Errorf("set nsid of %s in %s to %d: %w", peer, in, nsid, err)
}

// WireNSIDs gives every namespace an id for every other (kernel-chosen),
// keeping ids already assigned. Call it before making links between them,
// so ids are assigned on purpose and `ip netns list-id` shows all pairs.
func WireNSIDs(nss ...*Namespace) error {
	for _, a := range nss {
		for _, b := range nss {
			if a == b {
				continue
			}
			if err := a.SetNSID(b, NoNSID); err != nil {
				return fmt.Errorf("wire nsids: %w", err)
			}
		}
	}
	return nil
}
