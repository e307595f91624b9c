// Package owner keeps the owner records of the namespaces nsrun makes: who
// made each one (pid, start time, PID namespace), so that a later run can
// tell a leftover whose owner died (remove it) from one in use (leave it).
// Records live in paths.Records(), one JSON file per namespace, written
// whole or not at all; a namespace without a record was not made by nsrun
// and is never swept.
//
// Its code is Linux-only; off Linux the package is empty.
package owner
