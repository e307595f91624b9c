package relay

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// ifreqData is struct ifreq with a pointer in its union (ifr_data).
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data unsafe.Pointer
	_    [24 - unsafe.Sizeof(uintptr(0))]byte
}

// ethtoolValue is struct ethtool_value.
type ethtoolValue struct{ cmd, data uint32 }

// WireFrames makes interface ifname, in the namespace of the socket fd,
// hand over frames as a wire would carry them: checksums computed (no
// transmit checksum offload, which also turns off TSO and scatter-gather),
// so no frame larger than the MTU (what the stack would leave for the
// device to segment is segmented before it is sent) and none whose
// checksum is left for a device that will never compute it. A veth end
// offloads both by default, as it may: its peer's stack trusts it. A relay
// reading the peer with a packet socket cannot: what it writes is checked.
func WireFrames(fd int, ifname string) error {
	v := ethtoolValue{cmd: unix.ETHTOOL_STXCSUM}
	ifr := ifreqData{data: unsafe.Pointer(&v)}
	copy(ifr.name[:unix.IFNAMSIZ-1], ifname)
	_, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	if e != 0 {
		return fmt.Errorf("turn off checksum offload on %s: %w", ifname, e)
	}
	return nil
}
