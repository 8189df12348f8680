//go:build race

package script

// raceSlowdown scales time bounds in tests under the race detector.
const raceSlowdown = 20
