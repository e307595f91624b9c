// Package procscan finds the processes inside network namespaces by reading
// /proc, and ends them: the scan and killer behind Delete, `ip netns pids`
// and the owner records' liveness test. It never signals a process it has
// not just seen inside (pidfds make a recycled pid harmless), never this
// process, and never a process of the host's namespace or PID 1's.
//
// Its code is Linux-only; off Linux the package is empty.
package procscan
