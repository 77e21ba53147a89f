//go:build race

package testsupport

// RaceSlowdown is how many times longer a wait may take with the race
// detector on, which makes Go code several times slower.
const RaceSlowdown = 3
