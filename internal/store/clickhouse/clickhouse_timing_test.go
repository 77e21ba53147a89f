package clickhouse

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// BenchmarkWriteSpans writes batches of 100 spans, as ingest sends them,
// each with a few attributes; it reports the cost per span, the encoding
// and the three INSERTs included.
func BenchmarkWriteSpans(b *testing.B) {
	now := time.Now()
	s := openDB(b, freshDatabase(b), func() time.Time { return now })
	defer s.Close()
	res := &telemetry.Resource{ServiceName: "checkout", Attributes: []telemetry.Attribute{
		{Key: "service.name", Value: telemetry.StringValue("checkout")},
		{Key: "host.name", Value: telemetry.StringValue("web-1")},
	}}
	batch := make([]telemetry.Span, 100)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range batch {
			n := i*len(batch) + j
			batch[j] = telemetry.Span{
				TraceID: telemetry.TraceID{1, byte(n >> 16), byte(n >> 8), byte(n)}, SpanID: telemetry.SpanID{1, byte(n >> 16), byte(n >> 8), byte(n)},
				Name: fmt.Sprintf("GET /item/%d", j%10), Kind: telemetry.KindServer,
				StartUnixNano: now.Add(-time.Duration(j) * time.Millisecond).UnixNano(), EndUnixNano: now.UnixNano(),
				Resource: res,
				Attributes: []telemetry.Attribute{
					{Key: "http.request.method", Value: telemetry.StringValue("GET")},
					{Key: "http.response.status_code", Value: telemetry.IntValue(200)},
					{Key: "user.id", Value: telemetry.StringValue(fmt.Sprint(n % 1000))},
				},
			}
		}
		if err := s.WriteSpans(context.Background(), "p", batch); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/span")
}
