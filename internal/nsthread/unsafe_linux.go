package nsthread

import (
	"encoding/binary"
	"unsafe"
)

func unsafePointer(b *byte) unsafe.Pointer { return unsafe.Pointer(b) }

func nativeUint32(b []byte) uint32 { return binary.NativeEndian.Uint32(b) }
