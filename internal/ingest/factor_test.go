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
// allocate, for the load generator's realistic batches.
func TestDecodeFactor(t *testing.T) {
	td, _ := loadgen.Traces(rand.New(rand.NewPCG(1, 2)), loadgen.Shape{}, time.Now())
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	r := &Receiver{cfg: Config{}.withDefaults()}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	dec, err := r.decode(body, false)
	if err != nil {
		t.Fatal(err)
	}
	c := convert(dec, r.cfg.Spans)
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(c)
	factor := float64(after.TotalAlloc-before.TotalAlloc) / float64(len(body))
	t.Logf("%d spans, %d-byte body: decoding and converting allocate %.1f times the body", len(c.spans), len(body), factor)
	if factor > decodeFactor {
		t.Errorf("decoding allocates %.1f times the body, more than the %d charged", factor, decodeFactor)
	}
}
