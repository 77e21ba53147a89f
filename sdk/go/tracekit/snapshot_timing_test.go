package tracekit

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/sdk/go/internal/agent"
)

// BenchmarkCapturePointIdle is the cost of a capture point that no
// breakpoint matches, which is every capture point nearly all the time:
// with code monitoring off, and on with no breakpoint active (and no
// discovery window open). Target: 5 ns or less, no allocation.
//
//	go test -run '^$' -bench CapturePointIdle -benchmem ./tracekit
func BenchmarkCapturePointIdle(b *testing.B) {
	ctx := context.Background()
	data := map[string]interface{}{"order_id": "o-1", "amount": 12.5, "email": "jane@example.com"}
	run := func(b *testing.B, c *SnapshotClient) {
		b.ReportAllocs()
		for b.Loop() {
			c.CheckAndCaptureWithContext(ctx, "payment-failed", data)
		}
	}
	b.Run("off", func(b *testing.B) {
		c, err := newSnapshotClient(Config{}, nil)
		if err != nil {
			b.Fatal(err)
		}
		run(b, c)
	})
	b.Run("on", func(b *testing.B) {
		fake := newCodemonServer(b) // an empty breakpoint set
		c := newTestSnapshotClient(b, fake.srv.URL, nil, func(o *agent.Options) { o.Discovery.Off = true })
		waitCodemon(b, c, "the breakpoint set", func(s CodeMonitoringStats) bool { return s.Version == "v1" })
		run(b, c)
	})
}

// benchOrder and benchCustomer are the state of a checkout handler.
type benchOrder struct {
	ID       string
	Status   string
	Total    float64
	Currency string
	Items    []benchItem
	Customer *benchCustomer
}

type benchItem struct {
	SKU      string
	Quantity int
	Price    float64
}

type benchCustomer struct {
	ID    string
	Email string
	Phone string
}

// BenchmarkCapture is the cost, on the application's goroutine, of a hit of
// an active line breakpoint: call site, depth-3 capture of about 20 fields
// with PII scrubbing, stack, queueing (serialisation and upload happen in
// the background). The rate limit is kept out of the way by a clock that
// moves a minute per call. Target: median 20 µs or less.
//
//	go test -run '^$' -bench 'Capture$' -benchmem ./tracekit
func BenchmarkCapture(b *testing.B) {
	c := newBenchSnapshotClient(b, newCodemonServer(b, "payment-failed"))
	benchmarkHits(b, c, "payment-failed", benchCheckoutData())
	if c.Stats().Captures == 0 {
		b.Fatal("nothing was captured")
	}
}

// BenchmarkCaptureConditional is the cost of a hit of a conditional
// breakpoint, on the state of BenchmarkCapture: the condition is evaluated
// in process and, when it holds, the snapshot is captured and scrubbed.
//
//	go test -run '^$' -bench CaptureConditional -benchmem ./tracekit
func BenchmarkCaptureConditional(b *testing.B) {
	for _, c := range []struct{ name, condition string }{
		{"match", "attempt > 1"},
		{"nomatch", "attempt > 5"},
	} {
		b.Run(c.name, func(b *testing.B) {
			bp := lineBreakpoint("payment-failed")
			bp["type"], bp["condition"] = "conditional", c.condition
			fake := newCodemonServerOf(b, bp)
			client := newBenchSnapshotClient(b, fake)
			benchmarkHits(b, client, "payment-failed", benchCheckoutData())
			if captured := client.Stats().Captures > 0; captured != (c.name == "match") {
				b.Fatalf("captured = %v", captured)
			}
		})
	}
}

// newBenchSnapshotClient returns a client of fake whose clock moves a
// minute per reading, to keep the rate limit out of the way, once its
// breakpoint is active.
func newBenchSnapshotClient(b *testing.B, fake *codemonServer) *SnapshotClient {
	b.Helper()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Minute)
		return now
	}
	c := newTestSnapshotClient(b, fake.srv.URL, nil, func(o *agent.Options) { o.Now = clock })
	waitCodemon(b, c, "the breakpoint", func(s CodeMonitoringStats) bool { return s.Breakpoints == 1 })
	return c
}

// benchCheckoutData is the state of a checkout handler: about 20 fields,
// three levels deep, with an email, a phone number and a bearer token.
func benchCheckoutData() map[string]any {
	return map[string]interface{}{
		"order": &benchOrder{ID: "ord_100234", Status: "pending", Total: 129.97, Currency: "EUR",
			Items:    []benchItem{{SKU: "SKU-1", Quantity: 2, Price: 24.99}, {SKU: "SKU-7", Quantity: 1, Price: 79.99}},
			Customer: &benchCustomer{ID: "cus_42", Email: "jane.doe@example.com", Phone: "+1-555-123-4567"}},
		"request": map[string]interface{}{"method": "POST", "path": "/api/v1/checkout",
			"headers": map[string]interface{}{"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln", "X-Request-Id": "550e8400"}},
		"userID":  "u-1001",
		"attempt": 2,
		"err":     errors.New("payment gateway timeout after 5s"),
	}
}

// benchmarkHits calls the capture point name with data b.N times and
// reports the median and 99th percentile of a call.
func benchmarkHits(b *testing.B, c *SnapshotClient, name string, data map[string]any) {
	ctx := context.Background()
	const samples = 1 << 16
	lat := make([]time.Duration, 0, samples)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		c.CheckAndCaptureWithContext(ctx, name, data)
		if len(lat) < samples {
			lat = append(lat, time.Since(start))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2])/float64(time.Microsecond), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100])/float64(time.Microsecond), "p99-µs")
}
