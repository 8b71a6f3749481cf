//go:build race

package vector

// raceEnabled scales test data down: the race detector makes graph builds
// 5-10x slower.
const raceEnabled = true
