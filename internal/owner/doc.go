// Package owner keeps the owner records of the namespaces nsrun makes: who
// made each one (pid, start time, PID namespace), so that a later run can
// tell a leftover whose owner died (remove it) from one in use (leave it).
// Records live in paths.Records(), one JSON file per namespace, NAME.json,
// which appears whole or not at all. The record of a namespace made by New
// is a hard link to its process's owner file (.owner-*.json, written once
// per process, removed by Release, or swept once its owner is dead and no
// record links to it); a namespace without a record was not made by nsrun
// and is never swept.
//
// Its code is Linux-only; off Linux the package is empty.
package owner
