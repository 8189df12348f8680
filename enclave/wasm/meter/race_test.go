//go:build race

package meter_test

// raceEnabled is true under the race detector, which slows wazero's compiler (plain Go)
// enough that compiling the 3.6 MB Go guest dominates the package's test time.
const raceEnabled = true
