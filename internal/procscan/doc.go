// Package procscan finds the processes inside network namespaces by reading
// /proc, and ends them: the scan and killer behind Delete, `ip netns pids`
// and the owner records' liveness test. It never signals a process it has
// not just seen inside (pidfds make a recycled pid harmless), never this
// process, and never a process of the host's namespace or PID 1's.
//
// A scan reads every process of the host, so its cost grows with the host.
// Watch (an inotify watch on a namespace's nsfs inode, one shared inotify
// instance for the process) tells when there is nothing to find: a
// namespace watched from before it had a name, and never opened since, had
// no way in but through this process.
//
// Its code is Linux-only; off Linux the package is empty.
package procscan
