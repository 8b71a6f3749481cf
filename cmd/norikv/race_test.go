//go:build race

package main

// raceEnabled: the test binary was built with -race, so the built norikv
// is too (see norikvBinary), reusing the packages already compiled.
const raceEnabled = true
