// Package testsupport holds helpers for tests only: a goroutine-safe log
// buffer and deadlines stretched for slow runs. Only test code imports it.
// It imports nothing of TraceKit, so that the tests inside every package can
// use it; servertest (internal/server/servertest) starts a whole server.
// The Go SDK is a separate module and keeps its own helpers.
package testsupport

import (
	"bytes"
	"os"
	"sync"
	"time"
)

// LogBuffer is a goroutine-safe buffer for a logger's output, so that a
// test can read what a component running in other goroutines logged.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ciSlowdown is how much slower a shared CI runner is than a developer's
// machine.
const ciSlowdown = 2

// Timeout returns d stretched for a slow run: multiplied by RaceSlowdown
// under the race detector, and doubled when the CI environment variable is
// set (CI=true on the common CI services). A test waits with it for what
// the code under test does in its own time; it never sleeps for it.
func Timeout(d time.Duration) time.Duration {
	d *= RaceSlowdown
	if os.Getenv("CI") != "" {
		d *= ciSlowdown
	}
	return d
}
