// Package nstest gives each Go test its own throwaway named network
// namespace. It wraps the error-returning core (package nsrun) for
// testing.TB: failures fail the test, and cleanup is registered with
// tb.Cleanup, so nothing is left behind whether the test passes, fails,
// panics or calls t.FailNow.
//
//	func TestEcho(t *testing.T) {
//		t.Parallel()
//		srv := nstest.New(t)
//		ln, err := srv.Listen("tcp", "127.0.0.1:0")
//		...
//	}
//
// # Privileges
//
// Namespaces need CAP_SYS_ADMIN (root). A package whose TestMain is
//
//	func TestMain(m *testing.M) { nstest.Main(m) }
//
// gets it without root: unprivileged, the test binary runs itself again
// rootless, in a user namespace of its own (see Main). Without either, the
// helpers skip the test with the reason (which says what to add, or what
// blocks user namespaces here and the command that lifts it), unless the
// environment variable NSTEST_STRICT is set to 1, which makes them fail
// instead: CI sets it so that a lost privilege cannot pass as a green run
// of skipped tests. The package builds on every
// OS so that tests importing it compile anywhere; off Linux the helpers skip
// (or, under NSTEST_STRICT=1, fail) saying that network namespaces need Linux.
//
// # Packet capture
//
// Capture(t), or NSTEST_CAPTURE=DIR for every test, records the packets of
// every interface of every namespace a test makes into one pcapng file,
// kept only if the test fails (its path is in the failure log); see
// Capture. The environment variables:
//
//	NSTEST_CAPTURE=DIR          capture every test that makes namespaces, into DIR
//	NSTEST_CAPTURE_KEEP=1       keep the captures of passing tests too
//	NSTEST_CAPTURE_LIMIT=64MiB  bytes of packets kept per test, the oldest dropped (default 32MiB)
//	NSTEST_CAPTURE_SNAPLEN=256  bytes kept of each packet (default 65535)
package nstest
