// Package rootless is a small Go package whose tests make network
// namespaces, and run with or without root: its TestMain is
// nstest.Main, which runs the test binary rootless (in a user namespace of
// its own) when it lacks the privilege. `go test ./examples/rootless/` as a
// normal user runs the tests; where user namespaces are blocked they skip
// saying why and how to lift it. The cmd/nsrun tests run it as a normal
// user.
package rootless
