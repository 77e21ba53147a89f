package ingest_test

import (
	"github.com/tracekit-oss/tracekit/internal/testsupport"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/tracekit-oss/tracekit/internal/ingest"
)

// The decoders must never panic and must answer 200 or a 4xx to any body.
func fuzzBody(f *testing.F, ctype string, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	w := &memWriter{}
	r := newReceiver(f, w, ingest.Config{MaxBodyBytes: 1 << 20})
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := post(r, "ingest-a", ctype, "", body)
		if rec.Code != 200 && (rec.Code < 400 || rec.Code >= 500) {
			t.Fatalf("status %d for %q", rec.Code, body)
		}
	})
}

func FuzzOTLPProto(f *testing.F) {
	fuzzBody(f, "application/x-protobuf", protoBody(f, traces(2)), []byte{}, []byte{0x0a, 0x02, 0x0a, 0x00})
}

func FuzzOTLPJSON(f *testing.F) {
	j, _ := ptraceotlp.NewExportRequestFromTraces(traces(2)).MarshalJSON()
	fuzzBody(f, "application/json", j, []byte(`{}`), []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{}]}]}]}`))
}

// The pre-scan must never panic, and a body it lets through within the
// depth limit must decode without running away: the decoders below it
// recurse once per level.
func FuzzPrescanDeepValues(f *testing.F) {
	f.Add(testsupport.NestedOTLP(3, false))
	f.Add(testsupport.NestedOTLP(40, false))
	f.Add(protoBody(f, traces(2)))
	f.Add([]byte{0x0a, 0x80, 0x80, 0x80, 0x80, 0x10})
	w := &memWriter{}
	r := newReceiver(f, w, ingest.Config{MaxBodyBytes: 1 << 20, Spans: ingest.SpanLimits{MaxValueDepth: 8}})
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := post(r, "ingest-a", "application/x-protobuf", "", body)
		if rec.Code != 200 && (rec.Code < 400 || rec.Code >= 500) {
			t.Fatalf("status %d for %q", rec.Code, body)
		}
	})
}
