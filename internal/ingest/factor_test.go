package ingest

import (
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/tracekit-oss/tracekit/internal/loadgen"
)

// TestDecodeFactor checks the memory charged for decoding a request
// (decodeFactor times its body) covers what decoding and converting it
// allocate, for the load generator's realistic batches, in protobuf and in
// JSON.
func TestDecodeFactor(t *testing.T) {
	td, _ := loadgen.Traces(rand.New(rand.NewPCG(1, 2)), loadgen.Shape{}, time.Now())
	req := ptraceotlp.NewExportRequestFromTraces(td)
	pb, err := req.MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	js, err := req.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	r := &Receiver{cfg: Config{}.withDefaults()}
	f := func(name string, body []byte, json bool) {
		t.Helper()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		c, err := r.decode(body, json)
		if err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(c)
		factor := float64(after.TotalAlloc-before.TotalAlloc) / float64(len(body))
		t.Logf("%s: %d spans, %d-byte body: decoding and converting allocate %.1f times the body", name, len(c.spans), len(body), factor)
		if factor > decodeFactor {
			t.Errorf("%s: decoding allocates %.1f times the body, more than the %d charged", name, factor, decodeFactor)
		}
	}
	f("protobuf", pb, false)
	f("json", js, true)
}
