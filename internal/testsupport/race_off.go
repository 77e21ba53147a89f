//go:build !race

package testsupport

// RaceSlowdown is how many times longer a wait may take with the race
// detector on; it is off in this build.
const RaceSlowdown = 1
