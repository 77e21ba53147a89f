package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/backend"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// QueryConfig configures `tracekit bench query`.
type QueryConfig struct {
	Dir      string // empty: a temporary directory, removed afterwards
	Spans    int
	Over     time.Duration
	Queries  int
	Progress io.Writer
}

// Latency is a distribution summary.
type Latency struct{ P50, P99, Max time.Duration }

func summarize(ds []time.Duration) Latency {
	if len(ds) == 0 {
		return Latency{}
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return Latency{P50: ds[len(ds)/2], P99: ds[min(len(ds)-1, len(ds)*99/100)], Max: ds[len(ds)-1]}
}

func (l Latency) String() string {
	r := func(d time.Duration) time.Duration { return d.Round(time.Microsecond) }
	return fmt.Sprintf("p50 %s  p99 %s  max %s", r(l.P50), r(l.P99), r(l.Max))
}

// QueryResult is what `bench query` measured.
type QueryResult struct {
	Spans          int
	LoadSpansPerS  float64
	BytesPerSpan   float64
	TraceByID      Latency
	SearchCommon   Latency // service + tenant.id (1 in 50 spans) in a 1-hour window
	SearchRare     Latency // service + user.id (about 1 in 100,000) in a 1-hour window
	AvgResultsRare float64
}

func (r QueryResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "stored %d spans (%.0f spans/s straight into the store), %.1f bytes on disk per span\n", r.Spans, r.LoadSpansPerS, r.BytesPerSpan)
	fmt.Fprintf(&b, "trace by ID:                                   %s\n", r.TraceByID)
	fmt.Fprintf(&b, "search service + tenant.id, 1h window, limit 20: %s\n", r.SearchCommon)
	fmt.Fprintf(&b, "search service + user.id,   1h window, limit 20: %s (%.1f traces found on average)", r.SearchRare, r.AvgResultsRare)
	return b.String()
}

// Query fills a store and times lookups and searches on it.
func Query(ctx context.Context, cfg QueryConfig) (QueryResult, error) {
	var res QueryResult
	now := time.Now()
	stores, done, err := freshStore(ctx, cfg.Dir, func() time.Time { return now })
	if err != nil {
		return res, err
	}
	defer done()
	st := stores.Traces
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}

	// Load: 2 writers, batches of 512 spans, end times spread evenly.
	const batch = 512
	batches := cfg.Spans / batch
	res.Spans = batches * batch
	resources := Resources(5)
	var mu sync.Mutex
	var sample []telemetry.TraceID
	start := time.Now()
	var wg sync.WaitGroup
	var werr error
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 99))
			for b := w; b < batches && ctx.Err() == nil; b += 2 {
				end := now.Add(-cfg.Over + time.Duration(float64(cfg.Over)*float64(b+1)/float64(batches)))
				spans := Spans(r, Shape{Batch: batch}, end, resources)
				if err := st.WriteSpans(ctx, "bench", spans); err != nil {
					mu.Lock()
					werr = err
					mu.Unlock()
					return
				}
				if b%200 == w {
					mu.Lock()
					sample = append(sample, spans[r.IntN(len(spans))].TraceID)
					mu.Unlock()
				}
				if b%20000 == w {
					fmt.Fprintf(progress, "loaded %d of %d spans\n", b*batch, res.Spans)
				}
			}
		}(w)
	}
	wg.Wait()
	if werr != nil {
		return res, werr
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.LoadSpansPerS = float64(res.Spans) / time.Since(start).Seconds()
	res.BytesPerSpan = float64(stores.DiskUsage()) / float64(res.Spans)
	if len(sample) == 0 {
		return res, errors.New("no traces sampled")
	}
	fmt.Fprintln(progress, "loaded; measuring")

	r := rand.New(rand.NewPCG(5, 6))
	var byID, common, rare []time.Duration
	found := 0
	for i := 0; i < cfg.Queries; i++ {
		id := sample[r.IntN(len(sample))]
		t0 := time.Now()
		if _, err := st.Trace(ctx, "bench", id); err != nil {
			return res, fmt.Errorf("trace %s: %w", id, err)
		}
		byID = append(byID, time.Since(t0))

		end := now.Add(-time.Duration(r.Int64N(int64(cfg.Over - time.Hour))))
		q := store.TraceQuery{
			Service: fmt.Sprintf("service-%d", r.IntN(len(resources))), Start: end.Add(-time.Hour), End: end, Limit: 20,
			Attributes: []store.AttributeFilter{{Key: "tenant.id", Value: fmt.Sprintf("tenant-%d", r.IntN(50))}},
		}
		t0 = time.Now()
		if _, err := st.FindTraces(ctx, "bench", q); err != nil {
			return res, err
		}
		common = append(common, time.Since(t0))

		q.Attributes = []store.AttributeFilter{{Key: "user.id", Value: fmt.Sprintf("user-%d", r.IntN(100000))}}
		t0 = time.Now()
		got, err := st.FindTraces(ctx, "bench", q)
		if err != nil {
			return res, err
		}
		rare = append(rare, time.Since(t0))
		found += len(got)
	}
	res.TraceByID, res.SearchCommon, res.SearchRare = summarize(byID), summarize(common), summarize(rare)
	res.AvgResultsRare = float64(found) / float64(cfg.Queries)
	return res, nil
}

// freshStore opens the embedded store in dir, which must be empty, or in a
// temporary directory when dir is empty; done closes it and removes the
// temporary directory.
func freshStore(ctx context.Context, dir string, now func() time.Time) (stores *backend.Stores, done func(), err error) {
	cleanup := func() {}
	if dir == "" {
		d, err := os.MkdirTemp("", "tracekit-bench-query-")
		if err != nil {
			return nil, nil, err
		}
		dir, cleanup = d, func() { os.RemoveAll(d) }
	} else if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, nil, fmt.Errorf("--data %s is not empty: bench query fills a fresh store", dir)
	}
	stores, err = backend.Open(ctx, backend.Config{DataDir: dir, Now: now})
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return stores, func() { stores.Close(); cleanup() }, nil
}
