//go:build !race

package meter_test

// raceEnabled is true under the race detector.
const raceEnabled = false
