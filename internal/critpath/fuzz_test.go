package critpath_test

import (
	"encoding/binary"
	"testing"

	"github.com/tracekit-oss/tracekit/internal/critpath"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// FuzzCompute feeds traces of any shape: repeated IDs, cycles, missing
// parents, spans ending before they start, times anywhere. Compute must
// not panic, and the path must keep its invariants (checkPath).
func FuzzCompute(f *testing.F) {
	f.Add([]byte{1, 0, 0, 0, 100, 2, 1, 10, 0, 30, 3, 1, 20, 0, 90})
	f.Add([]byte{1, 2, 0, 0, 100, 2, 1, 10, 0, 30})
	f.Add([]byte{1, 0, 0, 0, 100, 1, 0, 50, 0, 150, 2, 9, 0, 255, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Five bytes a span: its ID, its parent's (0 for none), and its
		// start and end, one byte each, scaled by a third byte's high bit.
		var spans []telemetry.Span
		for ; len(data) >= 5 && len(spans) < 200; data = data[5:] {
			scale := int64(1)
			if data[2]&0x80 != 0 {
				scale = 1 << 40
			}
			s := telemetry.Span{SpanID: telemetry.SpanID{data[0]}, StartUnixNano: int64(data[3]) * scale, EndUnixNano: int64(data[4]) * scale}
			if data[1] != 0 {
				s.ParentSpanID = telemetry.SpanID{data[1]}
			}
			if data[0] == 0 {
				binary.BigEndian.PutUint64(s.SpanID[:], uint64(len(spans)+1)<<32)
			}
			spans = append(spans, s)
		}
		checkPath(t, spans, critpath.Compute(spans))
	})
}
