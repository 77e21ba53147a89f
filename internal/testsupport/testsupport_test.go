package testsupport_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tracekit-oss/tracekit/internal/testsupport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestLogBuffer(t *testing.T) {
	var b testsupport.LogBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for range 100 {
				fmt.Fprintf(&b, "writer %d\n", i)
			}
		})
	}
	wg.Wait()
	if n := strings.Count(b.String(), "\n"); n != 800 {
		t.Errorf("%d lines, want 800", n)
	}
}

func TestTimeout(t *testing.T) {
	t.Setenv("CI", "")
	if got, want := testsupport.Timeout(time.Second), testsupport.RaceSlowdown*time.Second; got != want {
		t.Errorf("Timeout(1s) = %v, want %v", got, want)
	}
	t.Setenv("CI", "true")
	if got, want := testsupport.Timeout(time.Second), 2*testsupport.RaceSlowdown*time.Second; got != want {
		t.Errorf("with CI=true, Timeout(1s) = %v, want %v", got, want)
	}
}
