package pebble

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// loadLikeTraces makes traces shaped like issue 15's load: 5 spans of one
// service each, 6 attributes of which two have many values.
func loadLikeTraces(r *rand.Rand, n int) [][]telemetry.Span {
	res := make([]*telemetry.Resource, 8)
	for i := range res {
		name := fmt.Sprint("service-", i)
		res[i] = &telemetry.Resource{ServiceName: name, Attributes: []telemetry.Attribute{{Key: "service.name", Value: telemetry.StringValue(name)}, {Key: "host.name", Value: telemetry.StringValue(fmt.Sprint("host-", i))}}}
	}
	out := make([][]telemetry.Span, n)
	start := int64(1_700_000_000_000_000_000)
	for t := range out {
		var tid telemetry.TraceID
		for i := range tid {
			tid[i] = byte(r.Uint32())
		}
		rs := res[r.IntN(len(res))]
		start += r.Int64N(20_000)
		for i := range 5 {
			s := telemetry.Span{TraceID: tid, Name: fmt.Sprint("op-", r.IntN(20)), Kind: telemetry.SpanKind(1 + r.IntN(3)),
				StartUnixNano: start + int64(i)*1000, Resource: rs}
			for j := range s.SpanID {
				s.SpanID[j] = byte(r.Uint32())
			}
			if i > 0 {
				s.ParentSpanID = out[t][0].SpanID
			}
			s.EndUnixNano = s.StartUnixNano + r.Int64N(1e8)
			s.Attributes = []telemetry.Attribute{
				{Key: "http.method", Value: telemetry.StringValue([]string{"GET", "POST"}[r.IntN(2)])},
				{Key: "http.status_code", Value: telemetry.IntValue(int64(200 + 100*r.IntN(4)))},
				{Key: "tenant.id", Value: telemetry.StringValue(fmt.Sprint("tenant-", r.IntN(50)))},
				{Key: "user.id", Value: telemetry.StringValue(fmt.Sprint("user-", r.IntN(100_000)))},
				{Key: "region", Value: telemetry.StringValue([]string{"eu", "us", "ap"}[r.IntN(3)])},
				{Key: "retry", Value: telemetry.BoolValue(r.IntN(10) == 0)},
			}
			out[t] = append(out[t], s)
		}
	}
	return out
}

// BenchmarkColBlockTrace reads one trace from a block of 500 spans (a
// request of issue 15's load) and of 2048 (the most a block holds), as a
// trace-by-ID lookup does: open the block's value, decode the trace.
func BenchmarkColBlockTrace(b *testing.B) {
	for _, spans := range []int{500, maxColBlockSpans} {
		b.Run(fmt.Sprint(spans), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			traces := loadLikeTraces(r, spans/5)
			var c colEnc
			value := c.encode(nil, blockInput(traces))
			for i := range b.N {
				t := i % len(traces)
				blk, err := openColBlock(value)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := blk.spans(nil, t, traces[t][0].TraceID); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(value))/float64(len(traces)*5), "raw-B/span")
		})
	}
}
