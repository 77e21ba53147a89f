package pebble

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// randomBlockTraces makes traces with every field a span can carry: values
// of each type, events, links, parents inside and outside the trace,
// shared and distinct resources, empty strings.
func randomBlockTraces(r *rand.Rand, traces int) [][]telemetry.Span {
	res := []*telemetry.Resource{
		{ServiceName: "checkout", Attributes: []telemetry.Attribute{{Key: "service.name", Value: telemetry.StringValue("checkout")}, {Key: "host.cpus", Value: telemetry.IntValue(8)}}},
		{ServiceName: "db"},
		{ServiceName: "", Attributes: []telemetry.Attribute{{Key: "empty", Value: telemetry.Value{}}}},
	}
	value := func() telemetry.Value {
		switch r.IntN(7) {
		case 0:
			return telemetry.BoolValue(r.IntN(2) == 0)
		case 1:
			return telemetry.IntValue(r.Int64() - r.Int64())
		case 2:
			return telemetry.Value{Type: telemetry.TypeDouble, Double: r.NormFloat64()}
		case 3:
			return telemetry.Value{}
		case 4:
			return telemetry.StringValue("")
		default:
			return telemetry.StringValue(fmt.Sprint("v-", r.IntN(20)))
		}
	}
	attrs := func(max int) []telemetry.Attribute {
		n := r.IntN(max + 1)
		if n == 0 {
			return nil
		}
		as := make([]telemetry.Attribute, n)
		for i := range as {
			as[i] = telemetry.Attribute{Key: fmt.Sprint("k", r.IntN(8)), Value: value()}
		}
		return as
	}
	out := make([][]telemetry.Span, traces)
	for t := range out {
		tid := telemetry.TraceID{byte(t + 1), byte(r.IntN(256))}
		n := 1 + r.IntN(12)
		start := int64(1_700_000_000_000_000_000) + r.Int64N(1e12) - 5e11
		for i := 0; i < n; i++ {
			s := telemetry.Span{TraceID: tid, SpanID: telemetry.SpanID{byte(t), byte(i), 1}, Name: fmt.Sprint("op", r.IntN(5)),
				Kind: telemetry.SpanKind(r.IntN(6)), StartUnixNano: start + r.Int64N(1e9) - 1e8, StatusCode: telemetry.StatusCode(r.IntN(3)),
				Resource: res[r.IntN(len(res))], Attributes: attrs(6)}
			s.EndUnixNano = s.StartUnixNano + r.Int64N(1e9) - 1e7 // some ends before starts
			switch r.IntN(4) {
			case 0: // root
			case 1:
				s.ParentSpanID = telemetry.SpanID{0xee, byte(i)} // outside the trace's spans here
			default:
				if i > 0 {
					s.ParentSpanID = out[t][r.IntN(i)].SpanID
				}
			}
			if r.IntN(4) == 0 {
				s.StatusMessage, s.TraceState = "boom", "k=v"
				s.ScopeName, s.ScopeVersion = "lib", "1.2"
			}
			for range r.IntN(3) {
				s.Events = append(s.Events, telemetry.Event{Name: fmt.Sprint("ev", r.IntN(3)), TimeUnixNano: s.StartUnixNano + r.Int64N(1e6), Attributes: attrs(2)})
			}
			for range r.IntN(2) {
				s.Links = append(s.Links, telemetry.Link{TraceID: telemetry.TraceID{9, byte(r.IntN(256))}, SpanID: telemetry.SpanID{7}, TraceState: "a=b", Attributes: attrs(2)})
			}
			out[t] = append(out[t], s)
		}
	}
	return out
}

func blockInput(traces [][]telemetry.Span) [][]*telemetry.Span {
	in := make([][]*telemetry.Span, len(traces))
	for t := range traces {
		for i := range traces[t] {
			in[t] = append(in[t], &traces[t][i])
		}
	}
	return in
}

// TestColBlockRoundTrip: every trace of a block reads back as written,
// whichever is read and in whatever order, from one opened block.
func TestColBlockRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var c colEnc
	for round := range 50 {
		traces := randomBlockTraces(r, 1+r.IntN(30))
		value := c.encode(nil, blockInput(traces))
		b, err := openColBlock(value)
		if err != nil {
			t.Fatalf("round %d: open: %v", round, err)
		}
		for _, i := range r.Perm(len(traces)) {
			got, err := b.spans(nil, i, traces[i][0].TraceID)
			if err != nil {
				t.Fatalf("round %d trace %d: %v", round, i, err)
			}
			if !reflect.DeepEqual(got, traces[i]) {
				t.Fatalf("round %d trace %d:\n got %+v\nwant %+v", round, i, got, traces[i])
			}
		}
		if _, err := b.spans(nil, len(traces), telemetry.TraceID{1}); err == nil {
			t.Fatalf("round %d: a trace past the block's last read without error", round)
		}
	}
}

// FuzzColBlockDecode: no bytes make the decoder panic or allocate beyond
// what the value's length allows.
func FuzzColBlockDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	var c colEnc
	for range 8 {
		f.Add(c.encode(nil, blockInput(randomBlockTraces(r, 1+r.IntN(5)))), 0)
	}
	f.Fuzz(func(t *testing.T, value []byte, trace int) {
		b, err := openColBlock(value)
		if err != nil {
			return
		}
		_, _ = b.spans(nil, trace, telemetry.TraceID{1})
	})
}

// TestReopenAtSameInstantKeepsBlocks: a store reopened with its clock at
// the same instant (or set back) must not reuse a block's seq, which
// would replace the block of the same day and project.
func TestReopenAtSameInstantKeepsBlocks(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	opts := Options{Now: func() time.Time { return now }}
	dir := t.TempDir()
	var traces []telemetry.Span
	for i := range 3 {
		st, err := Open(dir, opts)
		if err != nil {
			t.Fatal(err)
		}
		sp := testSpan("svc", "op", i, now.Add(-time.Minute))
		if err := st.WriteSpans(ctx, "p", []telemetry.Span{sp}); err != nil {
			t.Fatal(err)
		}
		traces = append(traces, sp)
		for j, want := range traces {
			got, err := st.Trace(ctx, "p", want.TraceID)
			if err != nil || len(got) != 1 || got[0].SpanID != want.SpanID {
				t.Errorf("open %d: trace %d: %v, %v", i, j, got, err)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTraceReadsRecordsOfBothFormats: a trace whose older spans are in
// version 2 records (every store before column blocks) and newer ones in
// a block reads whole.
func TestTraceReadsRecordsOfBothFormats(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	st := openTest(t, t.TempDir(), Options{Now: func() time.Time { return now }})
	old := testSpan("svc", "old", 7, now.Add(-time.Hour))
	var e enc
	encodeGroup(&e, []*telemetry.Span{&old})
	key := appendSeq(traceKeyPrefix(nil, dayOf(old.StartUnixNano), "p", old.TraceID[:]), 1)
	if err := st.db.Set(key, e.b, nil); err != nil {
		t.Fatal(err)
	}
	fresh := testSpan("svc", "new", 7, now.Add(-time.Minute))
	fresh.SpanID[1] = 2
	fresh.ParentSpanID = old.SpanID
	if err := st.WriteSpans(ctx, "p", []telemetry.Span{fresh}); err != nil {
		t.Fatal(err)
	}
	got, err := st.Trace(ctx, "p", old.TraceID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Name != "old" || got[1].Name != "new" || got[1].ParentSpanID != old.SpanID {
		t.Fatalf("trace = %+v, want the old record's span and the block's", got)
	}
}
