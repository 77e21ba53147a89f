// Package retention runs the background job that deletes data older than the
// configured retention. It owns the schedule, not the deletion: each store
// drops its own partitions.
package retention

import (
	"context"
	"log/slog"
	"time"
)

// Dropper deletes data older than cutoff.
type Dropper func(ctx context.Context, cutoff time.Time) error

// Job is one kind of data with its retention.
type Job struct {
	Name string
	Keep time.Duration
	Drop Dropper
}

// Run runs every job at once and then every interval until ctx is done.
func Run(ctx context.Context, interval time.Duration, now func() time.Time, log *slog.Logger, jobs ...Job) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, j := range jobs {
			cutoff := now().Add(-j.Keep)
			if err := j.Drop(ctx, cutoff); err != nil && ctx.Err() == nil {
				log.Error("retention", "data", j.Name, "cutoff", cutoff, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
