package protocol_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/sdk/go/protocol"
)

var update = flag.Bool("update", false, "rewrite testdata/messages.golden.json")

// The wire form of every message is pinned: a renamed field or a changed
// omitempty breaks SDKs in other languages, which follow docs/protocol.md,
// not this package.
func TestWireForm(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 12, 3, 123456000, time.UTC)
	in := protocol.Instance{Service: "checkout", Environment: "production", Instance: "i-1", Host: "web-1", SDK: "go/0.1.0"}
	msgs := map[string]any{
		"BreakpointSet": protocol.BreakpointSet{Service: "checkout", Version: "5f0c9a1e2b7d4c33", Breakpoints: []protocol.Breakpoint{
			{ID: "bp_1", Type: protocol.Conditional, CapturePoint: "payment-failed", Condition: "order.total > 10000", CaptureDepth: 3, RateLimit: 10, MaxStringLength: 256, ExpiresAt: at},
			{ID: "bp_2", Type: protocol.Logpoint, File: "handlers/payment.go", Line: 42, Message: "took {duration}ms", CaptureDepth: 3, RateLimit: 10, MaxStringLength: 256, Environment: "production", ExpiresAt: at},
		}},
		"CapturePointsRequest": protocol.CapturePointsRequest{Instance: in, Points: []protocol.CapturePoint{{Name: "payment-failed", File: "/app/pay.go", Line: 42, Function: "main.pay"}}},
		"CheckRequest":         protocol.CheckRequest{Instance: in, BreakpointID: "bp_1", Variables: map[string]any{"order": map[string]any{"total": 12000}}},
		"CheckResponse":        []protocol.CheckResponse{{Capture: true}, {KillSwitch: true}, {Error: "order.total: no such variable"}, {Capture: true, Message: "order o-1 took 812ms"}},
		"UploadRequest": protocol.UploadRequest{Instance: in,
			Snapshots: []protocol.Snapshot{{ID: "18aa9b5c1d2e3f4051a2b3c4", BreakpointID: "bp_1", CapturePoint: "payment-failed", File: "/app/pay.go", Line: 42, Function: "main.pay", Time: at,
				TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7", Variables: json.RawMessage(`{"email":"[REDACTED:email]"}`),
				Stack: []protocol.Frame{{Function: "main.pay", File: "/app/pay.go", Line: 42}}}},
			Logs: []protocol.LogLine{{ID: "18aa9b5c1d2e3f40d5e6f7a8", BreakpointID: "bp_2", File: "/app/pay.go", Line: 42, Time: at, Message: "took 812ms"}}},
		"UploadResponse": []protocol.UploadResponse{{Accepted: 2}, {Accepted: 1, Rejected: 1, Errors: []string{`snapshots[1]: breakpoint "x" is unknown`}}},
	}
	got, err := json.MarshalIndent(msgs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	const golden = "testdata/messages.golden.json"
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the wire form changed; if on purpose, update docs/protocol.md, the other SDKs and then this file with -update.\ngot:\n%s", got)
	}
	for _, ty := range []protocol.BreakpointType{protocol.Line, protocol.Conditional, protocol.Logpoint} {
		if !ty.Valid() {
			t.Errorf("%q is not valid", ty)
		}
	}
	if protocol.BreakpointType("watch").Valid() {
		t.Error(`"watch" is valid`)
	}
}
