package main

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// TestTuneGC checks the collector defaults apply only where GOGC and
// GOMEMLIMIT leave the choice to the program.
func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))

	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	debug.SetGCPercent(100)
	tuneGC()
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("GC percent = %d, want %d", got, defaultGCPercent)
	}
	if got := debug.SetMemoryLimit(-1); got != defaultMemoryLimit {
		t.Errorf("memory limit = %d, want %d", got, defaultMemoryLimit)
	}

	t.Setenv("GOGC", "150")
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetGCPercent(150)
	debug.SetMemoryLimit(1 << 30)
	tuneGC()
	if got := debug.SetGCPercent(150); got != 150 {
		t.Errorf("with GOGC set: GC percent = %d, want 150", got)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<30 {
		t.Errorf("with GOMEMLIMIT set: memory limit = %d, want 1 GiB", got)
	}
}

// TestTuneProcs checks the process runs at least minProcs Ps unless
// GOMAXPROCS says otherwise, and never fewer than it had.
func TestTuneProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))

	t.Setenv("GOMAXPROCS", "")
	runtime.GOMAXPROCS(1)
	tuneProcs()
	if got := runtime.GOMAXPROCS(0); got != minProcs {
		t.Errorf("from 1: GOMAXPROCS = %d, want %d", got, minProcs)
	}
	runtime.GOMAXPROCS(minProcs + 3)
	tuneProcs()
	if got := runtime.GOMAXPROCS(0); got != minProcs+3 {
		t.Errorf("from %d: GOMAXPROCS = %d, want it unchanged", minProcs+3, got)
	}

	t.Setenv("GOMAXPROCS", "1")
	runtime.GOMAXPROCS(1)
	tuneProcs()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("with GOMAXPROCS=1 set: GOMAXPROCS = %d, want 1", got)
	}
}
