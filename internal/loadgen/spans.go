// Package loadgen generates load and measures: `tracekit bench ingest` sends
// OTLP/HTTP batches to a running server from concurrent senders and reports
// accepted spans/s and the server's memory; `tracekit bench query` fills a
// store with millions of spans and measures trace-by-ID and search latency.
//
// It owns synthetic data and measurement, not the code it measures.
package loadgen

import (
	"fmt"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// Shape describes the synthetic spans.
type Shape struct {
	Batch    int // spans per request
	Attrs    int // attributes per span
	Services int
	// TraceSize is spans per trace.
	TraceSize int
}

func (sh *Shape) defaults() {
	if sh.Batch <= 0 {
		sh.Batch = 512
	}
	if sh.Attrs <= 0 {
		sh.Attrs = 10
	}
	if sh.Services <= 0 {
		sh.Services = 5
	}
	if sh.TraceSize <= 0 {
		sh.TraceSize = 8
	}
}

var ops = []string{"GET /api/users", "POST /api/orders", "GET /api/orders/{id}", "db.Query", "cache.get", "charge", "publish order.created", "render"}

// attrValue returns a value of realistic cardinality for attribute i.
func attrValue(r *rand.Rand, i int) (string, string) {
	switch i % 10 {
	case 0:
		return "http.request.method", []string{"GET", "POST", "PUT", "DELETE"}[r.IntN(4)]
	case 1:
		return "http.response.status_code", fmt.Sprint([]int{200, 200, 200, 201, 404, 500}[r.IntN(6)])
	case 2:
		return "user.id", fmt.Sprintf("user-%d", r.IntN(100000))
	case 3:
		return "tenant.id", fmt.Sprintf("tenant-%d", r.IntN(50))
	case 4:
		return "url.path", fmt.Sprintf("/api/orders/%d", r.IntN(1000000))
	case 5:
		return "db.system.name", "postgresql"
	case 6:
		return "net.peer.name", fmt.Sprintf("db-%d.internal", r.IntN(8))
	case 7:
		return "order.id", fmt.Sprintf("ord-%08d", r.IntN(100000000))
	case 8:
		return "cache.hit", []string{"true", "false"}[r.IntN(2)]
	default:
		return fmt.Sprintf("custom.attr.%d", i), fmt.Sprintf("value-%d", r.IntN(1000))
	}
}

func randomTraceID(r *rand.Rand) [16]byte {
	var id [16]byte
	for id == ([16]byte{}) {
		a, b := r.Uint64(), r.Uint64()
		for i := 0; i < 8; i++ {
			id[i], id[8+i] = byte(a>>(8*i)), byte(b>>(8*i))
		}
	}
	return id
}

func randomSpanID(r *rand.Rand) [8]byte {
	var id [8]byte
	for id == ([8]byte{}) {
		a := r.Uint64()
		for i := 0; i < 8; i++ {
			id[i] = byte(a >> (8 * i))
		}
	}
	return id
}

// Traces builds one OTLP batch of sh.Batch spans ending around end, and
// returns the trace IDs it used.
func Traces(r *rand.Rand, sh Shape, end time.Time) (ptrace.Traces, [][16]byte) {
	sh.defaults()
	td := ptrace.NewTraces()
	svcSpans := make([]ptrace.SpanSlice, sh.Services)
	for i := range svcSpans {
		rs := td.ResourceSpans().AppendEmpty()
		ra := rs.Resource().Attributes()
		ra.PutStr("service.name", fmt.Sprintf("service-%d", i))
		ra.PutStr("service.version", "1.4.2")
		ra.PutStr("deployment.environment.name", "bench")
		ra.PutStr("host.name", fmt.Sprintf("host-%d", i))
		ss := rs.ScopeSpans().AppendEmpty()
		ss.Scope().SetName("tracekit-bench")
		svcSpans[i] = ss.Spans()
	}
	var ids [][16]byte
	var tid [16]byte
	var root [8]byte
	var start time.Time
	for n := 0; n < sh.Batch; n++ {
		pos := n % sh.TraceSize
		if pos == 0 {
			tid = randomTraceID(r)
			ids = append(ids, tid)
			start = end.Add(-time.Duration(r.IntN(int(time.Second))))
		}
		sp := svcSpans[(n/sh.TraceSize+pos)%sh.Services].AppendEmpty()
		sid := randomSpanID(r)
		sp.SetTraceID(pcommon.TraceID(tid))
		sp.SetSpanID(pcommon.SpanID(sid))
		if pos == 0 {
			root = sid
			sp.SetKind(ptrace.SpanKindServer)
		} else {
			sp.SetParentSpanID(pcommon.SpanID(root))
			sp.SetKind(ptrace.SpanKindClient)
		}
		sp.SetName(ops[r.IntN(len(ops))])
		st := start.Add(time.Duration(pos) * time.Millisecond)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(st))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(st.Add(time.Duration(1+r.IntN(200)) * time.Millisecond)))
		if r.IntN(50) == 0 {
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage("synthetic failure")
		}
		a := sp.Attributes()
		a.EnsureCapacity(sh.Attrs)
		for i := 0; i < sh.Attrs; i++ {
			k, v := attrValue(r, i)
			a.PutStr(k, v)
		}
	}
	return td, ids
}

// Spans is like Traces but returns our own spans, for loading a store
// directly.
func Spans(r *rand.Rand, sh Shape, end time.Time, res []*telemetry.Resource) []telemetry.Span {
	sh.defaults()
	out := make([]telemetry.Span, sh.Batch)
	var tid telemetry.TraceID
	var root telemetry.SpanID
	var start time.Time
	for n := range out {
		pos := n % sh.TraceSize
		if pos == 0 {
			tid = randomTraceID(r)
			start = end.Add(-time.Duration(r.IntN(int(time.Second))))
		}
		s := &out[n]
		s.TraceID, s.SpanID = tid, randomSpanID(r)
		if pos == 0 {
			root, s.Kind = s.SpanID, telemetry.KindServer
		} else {
			s.ParentSpanID, s.Kind = root, telemetry.KindClient
		}
		s.Name = ops[r.IntN(len(ops))]
		st := start.Add(time.Duration(pos) * time.Millisecond)
		s.StartUnixNano = st.UnixNano()
		s.EndUnixNano = st.Add(time.Duration(1+r.IntN(200)) * time.Millisecond).UnixNano()
		if r.IntN(50) == 0 {
			s.StatusCode = telemetry.StatusError
		}
		s.Resource = res[(n/sh.TraceSize+pos)%len(res)]
		s.Attributes = make([]telemetry.Attribute, sh.Attrs)
		for i := range s.Attributes {
			k, v := attrValue(r, i)
			s.Attributes[i] = telemetry.Attribute{Key: k, Value: telemetry.StringValue(v)}
		}
	}
	return out
}

// Resources returns n synthetic service resources.
func Resources(n int) []*telemetry.Resource {
	out := make([]*telemetry.Resource, n)
	for i := range out {
		name := fmt.Sprintf("service-%d", i)
		out[i] = &telemetry.Resource{ServiceName: name, Attributes: []telemetry.Attribute{
			{Key: "service.name", Value: telemetry.StringValue(name)},
			{Key: "deployment.environment.name", Value: telemetry.StringValue("bench")},
			{Key: "host.name", Value: telemetry.StringValue(fmt.Sprintf("host-%d", i))},
		}}
	}
	return out
}
