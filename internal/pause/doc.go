// Package pause holds a failed test or run at the point of failure, with
// its namespaces still there, until the person at the terminal presses
// Enter (or sends SIGINT or SIGTERM), so that they can look around. It
// pauses only with a terminal (/dev/tty) and never in CI (CI set).
//
// Its code is Linux-only; off Linux the package is empty.
package pause
