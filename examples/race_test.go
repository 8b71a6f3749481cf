//go:build race

package examples_test

// raceEnabled: the test binary was built with -race, so build the
// examples with it too (see binaries).
const raceEnabled = true
