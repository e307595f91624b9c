// Package testuser is test support for running things as a real normal
// user, as rootless mode must be proved: a test running as root gets a user
// (nsrunci when it exists, as CI makes it, else a throwaway one removed in
// Cleanup), directories that user can read or own, and commands run as it
// through runuser with a clean environment.
//
// Its code is Linux-only; off Linux the package is empty.
package testuser
