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
	// Keep returns how long to keep the data; it is asked at every run, so
	// that a retention changed while the server runs takes effect.
	Keep func(ctx context.Context) time.Duration
	Drop Dropper
}

// Fixed returns a Keep that always answers d.
func Fixed(d time.Duration) func(context.Context) time.Duration {
	return func(context.Context) time.Duration { return d }
}

// Run runs every job at once and then every interval until ctx is done.
func Run(ctx context.Context, interval time.Duration, now func() time.Time, log *slog.Logger, jobs ...Job) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, j := range jobs {
			cutoff := now().Add(-j.Keep(ctx))
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
