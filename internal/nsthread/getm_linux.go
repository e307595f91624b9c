package nsthread

import _ "unsafe" // for go:linkname

// getm returns the address of the runtime's M (the OS thread) running the
// calling goroutine. The runtime keeps it for packages that link to it
// ("Do not remove or change the type signature", go.dev/issue/67401).
// Locked to its thread, a goroutine has one M for as long as it is locked,
// and no other goroutine runs on that M meanwhile: the identity of the
// thread, for one pointer load instead of a gettid system call.
//
//go:linkname getm runtime.getm
func getm() uintptr
