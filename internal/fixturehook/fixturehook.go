// Package fixturehook gives nstest what fixture must not export. fixture
// sets the variables in its init; importing fixture therefore guarantees
// they are set.
package fixturehook

// Report describes the emulated links of f, a *fixture.Fixture: the seed
// of their random decisions and each direction's impairment and counters,
// for nstest's failure report; "" if f has none.
var Report func(f any) string
