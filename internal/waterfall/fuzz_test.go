package waterfall

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/tracekit-oss/tracekit/internal/api"
)

// FuzzRender feeds names, times and parent links from the network into a
// small trace: Render must not fail, loop or let a line exceed the width.
func FuzzRender(f *testing.F) {
	f.Add("api-gateway", "GET /api/users", "", int64(0), int64(420_000_000), uint8(60), false)
	f.Add("evil\x1b[2J", "line\nbreak", "b", int64(-5), int64(-1), uint8(0), true)
	f.Add("ユーザー🚀", "\u202eop", "a", int64(1<<62), int64(1<<62), uint8(255), true)
	f.Fuzz(func(t *testing.T, service, op, parent string, start, dur int64, width uint8, color bool) {
		tr := api.TraceJSON{TraceID: op}
		for i, id := range []string{"a", "b", "c"} {
			s := api.SpanJSON{
				SpanID: id, ParentSpanID: parent, Service: service, Operation: op,
				StartTimeUnixNano: strconv.FormatInt(start+int64(i), 10), DurationNanos: dur,
			}
			if i == 1 {
				s.Status.Code = "error"
			}
			tr.Spans = append(tr.Spans, s)
			parent = id
		}
		w := MinWidth + int(width)
		var b bytes.Buffer
		if err := Render(&b, tr, Options{Width: w, Color: color}); err != nil {
			t.Fatalf("Render: %v", err)
		}
		checkLines(t, b.String(), w)
	})
}
