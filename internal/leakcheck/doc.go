// Package leakcheck finds what a test binary left behind: for every network
// namespace this process made, its name, owner record, mounts, /etc/netns
// entry and any process still inside it (named or not); links added to the
// host namespace; and threads of this process outside the host network
// namespace. Other processes' namespaces are not judged, so test binaries
// running side by side (go test ./...) do not see each other's work as
// leaks. Every package that creates namespaces checks it in TestMain.
//
// Its code is Linux-only; off Linux the package is empty.
package leakcheck
