package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// HotConfig configures the hot shape of `tracekit bench query`: a store
// holding Spans spans that started within the last Over, searched while
// spans keep arriving at Rate per second. It is the shape of a busy
// service's newest data, which a shape spread over a day hides: there a
// minute holds a few thousand spans, here millions.
type HotConfig struct {
	Dir     string // empty: a temporary directory, removed afterwards
	Spans   int
	Over    time.Duration
	Rate    int // spans/s written while the queries run; 0: none
	Queries int
	// Pause is the time between one query's answer and the next query, as
	// a user's clicks are apart. With none, the querying goroutine never
	// blocks: on a saturated machine the runtime preempts it every 10 ms
	// like any busy goroutine, and the query it is running waits its turn.
	Pause    time.Duration
	Progress io.Writer
}

// HotResult is what the hot shape measured.
type HotResult struct {
	Spans           int
	Over            time.Duration
	Pause           time.Duration
	LoadSpansPerS   float64
	IngestSpansPerS float64 // achieved while the queries ran
	TraceByID       Latency
	SearchService   Latency // newest 20 of one service, no other filter
	SearchCommon    Latency // service + tenant.id (1 in 50 spans)
	SearchRare      Latency // service + user.id (about 1 in 100,000)
	AvgResultsRare  float64
	// SchedWait is how long goroutines waited for a CPU while the queries
	// ran: a search's tail near its maximum is waiting, not searching.
	SchedWait SchedWait
}

func (r HotResult) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "hot shape: %d spans started in the last %s (loaded at %.0f spans/s), searched while %.0f spans/s arrive, %s between queries\n",
		r.Spans, r.Over, r.LoadSpansPerS, r.IngestSpansPerS, r.Pause)
	fmt.Fprintf(&b, "trace by ID (a trace of the last second):   %s\n", r.TraceByID)
	fmt.Fprintf(&b, "search newest 20, service only:            %s\n", r.SearchService)
	fmt.Fprintf(&b, "search newest 20, service + tenant.id:     %s\n", r.SearchCommon)
	fmt.Fprintf(&b, "search newest 20, service + user.id:       %s (%.1f traces found on average)\n", r.SearchRare, r.AvgResultsRare)
	fmt.Fprintf(&b, "goroutines waiting for a CPU meanwhile:    %s", r.SchedWait)
	return b.String()
}

// hotBatch is the spans per write of the hot shape's writers.
const hotBatch = 512

// QueryHot fills a store with spans of the last cfg.Over and times searches
// on it while a writer adds cfg.Rate spans/s starting now.
func QueryHot(ctx context.Context, cfg HotConfig) (HotResult, error) {
	res := HotResult{Over: cfg.Over, Pause: cfg.Pause}
	stores, done, err := freshStore(ctx, cfg.Dir, nil)
	if err != nil {
		return res, err
	}
	defer done()
	st := stores.Traces
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	resources := Resources(5)

	// Load: 2 writers, start times spread evenly over the last cfg.Over.
	batches := cfg.Spans / hotBatch
	res.Spans = batches * hotBatch
	now := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	t0 := time.Now()
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for b := w; b < batches && ctx.Err() == nil; b += 2 {
				end := now.Add(-cfg.Over + time.Duration(float64(cfg.Over)*float64(b+1)/float64(batches)))
				if err := st.WriteSpans(ctx, "bench", Spans(r, Shape{Batch: hotBatch, TraceSize: 5, Attrs: 6}, end, resources)); err != nil {
					errs <- err
					return
				}
				if b%2000 == w {
					fmt.Fprintf(progress, "loaded %d of %d spans\n", b*hotBatch, res.Spans)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.LoadSpansPerS = float64(res.Spans) / time.Since(t0).Seconds()
	fmt.Fprintln(progress, "loaded; measuring while spans arrive")

	// Ingest at cfg.Rate while measuring; the writer remembers recent
	// trace IDs for the trace-by-ID lookups.
	ictx, stop := context.WithCancel(ctx)
	var written atomic.Int64
	var recentMu sync.Mutex
	var recent []telemetry.TraceID
	ingestErr := make(chan error, 1)
	ingestStart := time.Now()
	go func() {
		ingestErr <- hotIngest(ictx, st, cfg.Rate, resources, &written, func(id telemetry.TraceID) {
			recentMu.Lock()
			if len(recent) < 1024 {
				recent = append(recent, id)
			} else {
				recent[rand.IntN(len(recent))] = id
			}
			recentMu.Unlock()
		})
	}()
	r := rand.New(rand.NewPCG(5, 6))
	schedBefore := readSched()
	var byID, service, common, rare []time.Duration
	found := 0
	measure := func(into *[]time.Duration, q store.TraceQuery) (int, error) {
		pause(ctx, cfg.Pause)
		t := time.Now()
		got, err := st.FindTraces(ctx, "bench", q)
		*into = append(*into, time.Since(t))
		return len(got), err
	}
	for i := 0; i < cfg.Queries && err == nil; i++ {
		svc := fmt.Sprintf("service-%d", r.IntN(len(resources)))
		q := store.TraceQuery{Service: svc, Limit: 20}
		if _, err = measure(&service, q); err != nil {
			break
		}
		q.Attributes = []store.AttributeFilter{{Key: "tenant.id", Value: fmt.Sprintf("tenant-%d", r.IntN(50))}}
		if _, err = measure(&common, q); err != nil {
			break
		}
		q.Attributes = []store.AttributeFilter{{Key: "user.id", Value: fmt.Sprintf("user-%d", r.IntN(100000))}}
		n, qerr := measure(&rare, q)
		if err = qerr; err != nil {
			break
		}
		found += n
		recentMu.Lock()
		var id telemetry.TraceID
		if len(recent) > 0 {
			id = recent[r.IntN(len(recent))]
		}
		recentMu.Unlock()
		if id.IsValid() {
			pause(ctx, cfg.Pause)
			t := time.Now()
			if _, err = st.Trace(ctx, "bench", id); err != nil {
				err = fmt.Errorf("trace %s: %w", id, err)
				break
			}
			byID = append(byID, time.Since(t))
		}
	}
	res.SchedWait = readSched().since(schedBefore)
	stop()
	if ierr := <-ingestErr; ierr != nil && !errors.Is(ierr, context.Canceled) && err == nil {
		err = fmt.Errorf("ingest during the queries: %w", ierr)
	}
	if err != nil {
		return res, err
	}
	res.IngestSpansPerS = float64(written.Load()) / time.Since(ingestStart).Seconds()
	res.TraceByID, res.SearchService = summarize(byID), summarize(service)
	res.SearchCommon, res.SearchRare = summarize(common), summarize(rare)
	res.AvgResultsRare = float64(found) / float64(max(cfg.Queries, 1))
	return res, nil
}

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// hotIngest writes batches of spans starting now, paced to rate spans/s,
// until ctx ends; each batch's first trace ID goes to seen.
func hotIngest(ctx context.Context, st store.TraceStore, rate int, res []*telemetry.Resource, written *atomic.Int64, seen func(telemetry.TraceID)) error {
	if rate <= 0 {
		<-ctx.Done()
		return nil
	}
	r := rand.New(rand.NewPCG(11, 12))
	interval := time.Duration(float64(time.Second) * hotBatch / float64(rate))
	next := time.Now()
	for ctx.Err() == nil {
		spans := Spans(r, Shape{Batch: hotBatch, TraceSize: 5, Attrs: 6}, time.Now(), res)
		if err := st.WriteSpans(ctx, "bench", spans); err != nil {
			return err
		}
		written.Add(int64(len(spans)))
		seen(spans[0].TraceID)
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(d):
			}
		} else if d < -time.Second {
			next = time.Now() // behind by more than a second: do not burst to catch up
		}
	}
	return ctx.Err()
}
