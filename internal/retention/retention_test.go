package retention_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/retention"
)

func TestRunAsksKeepEveryRun(t *testing.T) {
	now := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	keep := 48 * time.Hour
	var cutoffs []time.Time
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	job := retention.Job{
		Name: "x",
		Keep: func(context.Context) time.Duration { mu.Lock(); defer mu.Unlock(); return keep },
		Drop: func(_ context.Context, cutoff time.Time) error {
			mu.Lock()
			defer mu.Unlock()
			cutoffs = append(cutoffs, cutoff)
			keep = time.Hour // changed while running: the next run must use it
			if len(cutoffs) == 2 {
				cancel()
			}
			return nil
		},
	}
	go func() {
		retention.Run(ctx, time.Millisecond, func() time.Time { return now }, slog.New(slog.NewTextHandler(io.Discard, nil)), job)
		close(done)
	}()
	<-done
	if len(cutoffs) < 2 || !cutoffs[0].Equal(now.Add(-48*time.Hour)) || !cutoffs[1].Equal(now.Add(-time.Hour)) {
		t.Errorf("cutoffs = %v", cutoffs)
	}
}
