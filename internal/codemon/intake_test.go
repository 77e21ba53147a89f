package codemon_test

import (
	"encoding/json"
	"fmt"
	"github.com/tracekit-oss/tracekit/sdk/go/protocol"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/codemon"
	"github.com/tracekit-oss/tracekit/internal/store"
)

func TestUploadQueryCompare(t *testing.T) {
	e := newEnv(t)
	b := e.create(t, map[string]any{"service": "pay", "capturePoint": "payment-failed"})
	lp := e.create(t, map[string]any{"service": "pay", "type": "logpoint", "capturePoint": "timing", "message": "Order {order.id} took {duration}ms"})
	now := time.Now().UTC()
	trace := "4bf92f3577b34da6a3ce929d0e0e4736"
	body := map[string]any{
		"service": "pay", "environment": "prod", "instance": "i-1", "host": "web-1", "sdk": "go/test",
		"snapshots": []map[string]any{
			{"breakpointId": b.ID, "capturePoint": "payment-failed", "file": "/app/pay.go", "line": 42, "function": "main.pay",
				"time": now.Add(-2 * time.Second), "traceId": trace, "spanId": "00f067aa0ba902b7",
				"variables": map[string]any{"order": map[string]any{"id": "o-1", "total": 12000, "items": []any{"a", "b"}}, "email": "[REDACTED:email]"},
				"stack":     []map[string]any{{"function": "main.pay", "file": "/app/pay.go", "line": 42}}},
			{"breakpointId": b.ID, "capturePoint": "payment-failed", "time": now.Add(-time.Second), "traceId": "ABCDEF00000000000000000000000001",
				"variables": map[string]any{"order": map[string]any{"id": "o-2", "total": 15000, "items": []any{"a"}}, "retry": true}},
			{"breakpointId": "bp_unknown", "variables": map[string]any{}},
			{"breakpointId": b.ID, "traceId": "xyz", "variables": map[string]any{}},
			{"breakpointId": b.ID, "variables": []any{1}},
		},
		"logs": []map[string]any{
			{"breakpointId": lp.ID, "time": now, "message": "Order o-1 took 812ms", "traceId": trace},
			{"breakpointId": "bp_unknown", "message": "nope"},
		},
	}
	var resp struct {
		Accepted int      `json:"accepted"`
		Rejected int      `json:"rejected"`
		Errors   []string `json:"errors"`
	}
	if code := e.call(t, e.sdk, "POST", "/v1/codemon/snapshots", body, &resp); code != 202 || resp.Accepted != 3 || resp.Rejected != 4 {
		t.Fatalf("upload: %d %+v", code, resp)
	}
	if !strings.Contains(strings.Join(resp.Errors, "\n"), `breakpoint "bp_unknown" is unknown`) {
		t.Errorf("errors = %q", resp.Errors)
	}
	// Hits and last hit are counted per breakpoint.
	var got bpJSON
	e.call(t, e.admin, "GET", "/api/v1/breakpoints/"+b.ID, nil, &got)
	if got.Hits != 2 || got.LastHitAt == nil {
		t.Errorf("hits = %d, last %v", got.Hits, got.LastHitAt)
	}
	var list struct{ Snapshots []store.Snapshot }
	e.call(t, e.admin, "GET", "/api/v1/snapshots?traceId="+trace, nil, &list)
	if len(list.Snapshots) != 1 {
		t.Fatalf("by trace: %+v", list.Snapshots)
	}
	sn := list.Snapshots[0]
	if sn.Service != "pay" || sn.Environment != "prod" || sn.Host != "web-1" || sn.SDKVersion != "go/test" || sn.SpanID != "00f067aa0ba902b7" ||
		len(sn.Stack) != 1 || sn.Stack[0].Line != 42 || !strings.Contains(string(sn.Variables), "[REDACTED:email]") {
		t.Errorf("snapshot = %+v", sn)
	}
	e.call(t, e.admin, "GET", "/api/v1/snapshots?breakpoint="+b.ID+"&service=pay&environment=prod&lookback=1h", nil, &list)
	if len(list.Snapshots) != 2 || list.Snapshots[0].TraceID != "abcdef00000000000000000000000001" {
		t.Fatalf("by breakpoint, newest first, trace IDs lower-cased: %+v", list.Snapshots)
	}
	if code := e.call(t, e.admin, "GET", "/api/v1/snapshots?start=never", nil, nil); code != 400 {
		t.Errorf("bad start: %d", code)
	}
	if code := e.call(t, e.otherAdmin, "GET", "/api/v1/snapshots/"+sn.ID, nil, nil); code != 404 {
		t.Errorf("other project reads snapshot: %d", code)
	}
	var one store.Snapshot
	if code := e.call(t, e.admin, "GET", "/api/v1/snapshots/"+sn.ID, nil, &one); code != 200 || one.ID != sn.ID {
		t.Errorf("get: %d %+v", code, one)
	}

	var cmp struct{ Diff codemon.Diff }
	if code := e.call(t, e.admin, "GET", "/api/v1/snapshots/compare?a="+list.Snapshots[1].ID+"&b="+list.Snapshots[0].ID, nil, &cmp); code != 200 {
		t.Fatalf("compare: %d", code)
	}
	paths := func(cs []codemon.Change) []string {
		var out []string
		for _, c := range cs {
			out = append(out, c.Path)
		}
		return out
	}
	if a, r, c := paths(cmp.Diff.Added), paths(cmp.Diff.Removed), paths(cmp.Diff.Changed); !reflect.DeepEqual(a, []string{"retry"}) ||
		!reflect.DeepEqual(r, []string{"email", "order.items[1]"}) || !reflect.DeepEqual(c, []string{"order.id", "order.total"}) {
		t.Errorf("diff: added %v removed %v changed %v", a, r, c)
	}
	if code := e.call(t, e.admin, "GET", "/api/v1/snapshots/compare?a="+sn.ID, nil, nil); code != 400 {
		t.Errorf("compare without b: %d", code)
	}

	var logs struct{ Logs []store.LogLine }
	e.call(t, e.admin, "GET", "/api/v1/logs?service=pay&q=O-1", nil, &logs)
	if len(logs.Logs) != 1 || logs.Logs[0].Message != "Order o-1 took 812ms" {
		t.Errorf("logs = %+v", logs.Logs)
	}
	e.call(t, e.admin, "GET", "/api/v1/logs?q=nothing-like-this", nil, &logs)
	if len(logs.Logs) != 0 {
		t.Errorf("text filter: %+v", logs.Logs)
	}
}

func TestUploadBadInput(t *testing.T) {
	e := newEnv(t)
	f := func(body any, want int) {
		t.Helper()
		var out map[string]any
		if code := e.call(t, e.sdk, "POST", "/v1/codemon/snapshots", body, &out); code != want {
			t.Errorf("%v: %d, want %d (%v)", body, code, want, out)
		}
	}
	f("not an object", 400)
	f(map[string]any{"snapshots": []any{}}, 400) // no service
	big := strings.Repeat("x", 5<<20)
	f(map[string]any{"service": "pay", "logs": []any{map[string]any{"message": big}}}, 413)
	if code := e.call(t, "", "POST", "/v1/codemon/snapshots", map[string]any{"service": "pay"}, nil); code != 401 {
		t.Errorf("no key: %d", code)
	}
}

func TestCheckAndCapturePoints(t *testing.T) {
	e := newEnv(t)
	b := e.create(t, map[string]any{"service": "pay", "capturePoint": "x", "condition": `err is not None && response.statusCode >= 500`})
	f := func(vars map[string]any, want bool, wantErr bool) {
		t.Helper()
		var out struct {
			Capture bool   `json:"capture"`
			Error   string `json:"error"`
		}
		if code := e.call(t, e.sdk, "POST", "/v1/codemon/check", map[string]any{"service": "pay", "breakpointId": b.ID, "variables": vars}, &out); code != 200 {
			t.Fatalf("check: %d", code)
		}
		if out.Capture != want || (out.Error != "") != wantErr {
			t.Errorf("check %v = %+v, want capture=%v error=%v", vars, out, want, wantErr)
		}
	}
	f(map[string]any{"err": "boom", "response": map[string]any{"statusCode": 502}}, true, false)
	f(map[string]any{"err": nil, "response": map[string]any{"statusCode": 502}}, false, false)
	f(map[string]any{"err": "boom", "response": map[string]any{"statusCode": 200}}, false, false)
	if code := e.call(t, e.sdk, "POST", "/v1/codemon/check", map[string]any{"service": "web", "breakpointId": b.ID}, nil); code != 404 {
		t.Errorf("check for another service: %d", code)
	}

	// A logpoint's message is rendered on the (scrubbed) variables sent, for
	// SDKs that do not evaluate templates in process.
	lp := e.create(t, map[string]any{"service": "pay", "type": "logpoint", "file": "api/server.js", "line": 12, "condition": "order.total > 10", "message": "order {order.id} for {order.email}"})
	for _, c := range []struct {
		vars map[string]any
		want protocol.CheckResponse
	}{
		{map[string]any{"order": map[string]any{"id": "o-1", "total": 20, "email": "[REDACTED:email]"}}, protocol.CheckResponse{Capture: true, Message: "order o-1 for [REDACTED:email]"}},
		{map[string]any{"order": map[string]any{"id": "o-2", "total": 5}}, protocol.CheckResponse{}},
	} {
		var out protocol.CheckResponse
		if code := e.call(t, e.sdk, "POST", "/v1/codemon/check", map[string]any{"service": "pay", "breakpointId": lp.ID, "variables": c.vars}, &out); code != 200 || out != c.want {
			t.Errorf("logpoint check %v = %d %+v, want %+v", c.vars, code, out, c.want)
		}
	}

	pts := map[string]any{"service": "pay", "points": []map[string]any{{"name": "payment-failed", "file": "/app/pay.go", "line": 42, "function": "main.pay"}}}
	if code := e.call(t, e.sdk, "POST", "/v1/codemon/capture-points", pts, nil); code != 204 {
		t.Fatalf("register: %d", code)
	}
	if code := e.call(t, e.sdk, "POST", "/v1/codemon/capture-points", map[string]any{"service": "pay", "points": []map[string]any{{"line": -1}}}, nil); code != 400 {
		t.Errorf("bad point: %d", code)
	}
	var cps struct{ CapturePoints []store.CapturePoint }
	e.call(t, e.admin, "GET", "/api/v1/services/pay/capture-points", nil, &cps)
	if len(cps.CapturePoints) != 1 || cps.CapturePoints[0].Function != "main.pay" {
		t.Errorf("capture points = %+v", cps)
	}
}

func TestCompare(t *testing.T) {
	f := func(a, b string, added, removed, changed []string) {
		t.Helper()
		d, err := codemon.Compare(json.RawMessage(a), json.RawMessage(b))
		if err != nil {
			t.Fatal(err)
		}
		p := func(cs []codemon.Change) []string {
			out := []string{}
			for _, c := range cs {
				out = append(out, c.Path)
			}
			return out
		}
		if !reflect.DeepEqual(p(d.Added), added) || !reflect.DeepEqual(p(d.Removed), removed) || !reflect.DeepEqual(p(d.Changed), changed) {
			t.Errorf("Compare(%s, %s) = +%v -%v ~%v", a, b, p(d.Added), p(d.Removed), p(d.Changed))
		}
	}
	none := []string{}
	f(`{}`, `{}`, none, none, none)
	f(`{"a":1}`, `{"a":1}`, none, none, none)
	f(`{"a":1}`, `{"a":2}`, none, none, []string{"a"})
	f(`{"a":{"b":[1,2]}}`, `{"a":{"b":[1,3,4]}}`, []string{"a.b[2]"}, none, []string{"a.b[1]"})
	f(`{"x-y":1,"ok":{}}`, `{"ok":{"n":null}}`, []string{"ok.n"}, []string{`["x-y"]`}, none)
	f(`{"a":"1"}`, `{"a":1}`, none, none, []string{"a"})
	f(`{"a":[1]}`, `{"a":{"0":1}}`, none, none, []string{"a"})
	if _, err := codemon.Compare(json.RawMessage(`{`), json.RawMessage(`{}`)); err == nil {
		t.Error("malformed JSON compared")
	}
}

// uploadResp is the answer to an upload.
type uploadResp struct {
	Accepted int      `json:"accepted"`
	Rejected int      `json:"rejected"`
	Error    string   `json:"error"`
	Errors   []string `json:"errors"`
}

func TestKillSwitchEnforced(t *testing.T) {
	e := newEnv(t)
	b := e.create(t, map[string]any{"service": "pay", "capturePoint": "payment-failed"})
	lp := e.create(t, map[string]any{"service": "pay", "type": "logpoint", "capturePoint": "timing", "message": "took {d}ms"})
	web := e.create(t, map[string]any{"service": "web", "capturePoint": "x"})
	upload := func(service, snapID, logID string) (int, uploadResp) {
		t.Helper()
		body := map[string]any{"service": service, "instance": "i-1",
			"snapshots": []map[string]any{{"breakpointId": snapID, "time": e.clock.now(), "variables": map[string]any{"a": 1}}}}
		if logID != "" {
			body["logs"] = []map[string]any{{"breakpointId": logID, "time": e.clock.now(), "message": "took 3ms"}}
		}
		var out uploadResp
		code := e.call(t, e.sdk, "POST", "/v1/codemon/snapshots", body, &out)
		return code, out
	}
	check := func() map[string]any {
		t.Helper()
		var out map[string]any
		if code := e.call(t, e.sdk, "POST", "/v1/codemon/check", map[string]any{"service": "pay", "breakpointId": b.ID}, &out); code != 200 {
			t.Fatalf("check: %d %v", code, out)
		}
		return out
	}
	if out := check(); out["capture"] != true {
		t.Fatalf("check with the kill switch off: %v", out)
	}
	if code := e.call(t, e.admin, "PUT", "/api/v1/services/pay/killswitch", map[string]bool{"enabled": true}, nil); code != 200 {
		t.Fatalf("kill switch on: %d", code)
	}
	if out := check(); out["capture"] != false || out["killSwitch"] != true {
		t.Errorf("check with the kill switch on = %v, want capture false and killSwitch true", out)
	}
	code, out := upload("pay", b.ID, lp.ID)
	if code != http.StatusConflict || !strings.Contains(out.Error, "kill switch") || !strings.Contains(out.Error, `"pay"`) {
		t.Errorf("upload with the kill switch on: %d %+v, want 409 naming the kill switch and the service", code, out)
	}
	var snaps struct{ Snapshots []store.Snapshot }
	e.call(t, e.admin, "GET", "/api/v1/snapshots?service=pay&lookback=1h", nil, &snaps)
	var logs struct{ Logs []store.LogLine }
	e.call(t, e.admin, "GET", "/api/v1/logs?service=pay&lookback=1h", nil, &logs)
	var got bpJSON
	e.call(t, e.admin, "GET", "/api/v1/breakpoints/"+b.ID, nil, &got)
	if len(snaps.Snapshots) != 0 || len(logs.Logs) != 0 || got.Hits != 0 {
		t.Errorf("stored with the kill switch on: %d snapshots, %d log lines, %d hits", len(snaps.Snapshots), len(logs.Logs), got.Hits)
	}
	// Another service's kill switch is its own.
	if code, out := upload("web", web.ID, ""); code != http.StatusAccepted || out.Accepted != 1 {
		t.Errorf("upload for another service: %d %+v", code, out)
	}
	e.call(t, e.admin, "PUT", "/api/v1/services/pay/killswitch", map[string]bool{"enabled": false}, nil)
	if out := check(); out["capture"] != true {
		t.Errorf("check with the kill switch off again: %v", out)
	}
	if code, out := upload("pay", b.ID, lp.ID); code != http.StatusAccepted || out.Accepted != 2 {
		t.Errorf("upload with the kill switch off again: %d %+v", code, out)
	}
}

func TestUploadTimeWindow(t *testing.T) {
	type tc struct {
		name string
		time any // nil: not sent
		want int
	}
	run := func(t *testing.T, e *env, cases []tc, window ...string) {
		t.Helper()
		for _, kind := range []string{"snapshots", "logs"} {
			for i, c := range cases {
				// One breakpoint per case: its hit count tells what was stored.
				bp := map[string]any{"service": "pay", "capturePoint": fmt.Sprintf("c-%d", i)}
				item := map[string]any{"variables": map[string]any{}}
				if kind == "logs" {
					bp["type"], bp["message"] = "logpoint", "x"
					item = map[string]any{"message": "x"}
				}
				b := e.create(t, bp)
				item["breakpointId"] = b.ID
				if c.time != nil {
					item["time"] = c.time
				}
				var out uploadResp
				code := e.call(t, e.sdk, "POST", "/v1/codemon/snapshots", map[string]any{"service": "pay", kind: []any{item}}, &out)
				if code != c.want {
					t.Errorf("%s %s: %d %+v, want %d", kind, c.name, code, out, c.want)
				}
				var got bpJSON
				e.call(t, e.admin, "GET", "/api/v1/breakpoints/"+b.ID, nil, &got)
				wantHits := int64(0)
				if c.want == http.StatusAccepted {
					wantHits = 1
				}
				if got.Hits != wantHits {
					t.Errorf("%s %s: %d stored, want %d", kind, c.name, got.Hits, wantHits)
				}
				if c.want != http.StatusBadRequest {
					continue
				}
				for _, w := range append([]string{kind + "[0].time"}, window...) {
					if !strings.Contains(out.Error, w) {
						t.Errorf("%s %s: error %q does not mention %q", kind, c.name, out.Error, w)
					}
				}
			}
		}
	}
	t.Run("defaults", func(t *testing.T) {
		e := newEnv(t)
		now := e.clock.now()
		run(t, e, []tc{
			{"year 1", "0001-03-04T05:06:07Z", 400},
			{"1900", "1900-01-01T00:00:00Z", 400},
			{"2h ahead", now.Add(2 * time.Hour), 400},
			{"31 days ago", now.Add(-31 * 24 * time.Hour), 400},
			{"a minute ago", now.Add(-time.Minute), 202},
			{"59 min ahead", now.Add(59 * time.Minute), 202},
			{"29 days ago", now.Add(-29 * 24 * time.Hour), 202},
			{"not sent", nil, 202},
			{"Go's zero time, also not sent", "0001-01-01T00:00:00Z", 202},
		}, "30 days before", "1h after")
	})
	t.Run("configured", func(t *testing.T) {
		e := newEnvWith(t, codemon.Options{MaxSnapshotAge: 2 * time.Hour, MaxSnapshotAhead: 5 * time.Minute})
		now := e.clock.now()
		run(t, e, []tc{
			{"3h ago", now.Add(-3 * time.Hour), 400},
			{"10 min ahead", now.Add(10 * time.Minute), 400},
			{"1h ago", now.Add(-time.Hour), 202},
		}, "2h before", "5m after")
	})
	t.Run("a bad time refuses the batch", func(t *testing.T) {
		e := newEnv(t)
		b := e.create(t, map[string]any{"service": "pay", "capturePoint": "x"})
		body := map[string]any{"service": "pay", "snapshots": []map[string]any{
			{"breakpointId": b.ID, "time": e.clock.now()},
			{"breakpointId": b.ID, "time": "1900-01-01T00:00:00Z"},
		}}
		var out uploadResp
		if code := e.call(t, e.sdk, "POST", "/v1/codemon/snapshots", body, &out); code != 400 || !strings.Contains(out.Error, "snapshots[1].time") {
			t.Errorf("batch with a bad time: %d %+v", code, out)
		}
		var got bpJSON
		if e.call(t, e.admin, "GET", "/api/v1/breakpoints/"+b.ID, nil, &got); got.Hits != 0 {
			t.Errorf("%d stored from a refused batch", got.Hits)
		}
	})
	t.Run("a time not sent is the server's", func(t *testing.T) {
		e := newEnv(t)
		b := e.create(t, map[string]any{"service": "pay", "capturePoint": "x"})
		e.call(t, e.sdk, "POST", "/v1/codemon/snapshots", map[string]any{"service": "pay", "snapshots": []any{map[string]any{"breakpointId": b.ID}}}, nil)
		var list struct{ Snapshots []store.Snapshot }
		e.call(t, e.admin, "GET", "/api/v1/snapshots?breakpoint="+b.ID+"&lookback=1h", nil, &list)
		if len(list.Snapshots) != 1 || !list.Snapshots[0].Time.Equal(e.clock.now().UTC()) {
			t.Errorf("snapshot without a time: %+v, want it at the server's now %s", list.Snapshots, e.clock.now())
		}
	})
}

// An SDK describes itself the same way in a query string and in a body, and
// each field is bounded in both: the instance registry keeps what it says.
func TestInstanceFieldsBounded(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("x", 10_000)
	f := func(field string) {
		t.Helper()
		body := map[string]any{"service": "pay", "instance": "i-1", "points": []map[string]any{{"name": "p"}}}
		body[field] = long
		var out map[string]string
		if code := e.call(t, e.sdk, "POST", "/v1/codemon/capture-points", body, &out); code != 400 || !strings.Contains(out["error"], field) {
			t.Errorf("body with a 10,000-character %s: %d %v", field, code, out)
		}
		q := url.Values{"service": {"pay"}, "instance": {"i-1"}}
		q.Set(field, long)
		if code := e.call(t, e.sdk, "GET", "/v1/codemon/breakpoints?"+q.Encode(), nil, &out); code != 400 || !strings.Contains(out["error"], field) {
			t.Errorf("query with a 10,000-character %s: %d %v", field, code, out)
		}
	}
	for _, field := range []string{"service", "instance", "host", "sdk", "environment"} {
		f(field)
	}
}

// TestUploadsHeldToTheRateLimit: the server admits a breakpoint's hits
// within its rate limit whatever SDK instances send, refuses the rest by
// count with a message, and stores a retried snapshot (same ID) once.
func TestUploadsHeldToTheRateLimit(t *testing.T) {
	e := newEnv(t)
	b := e.create(t, map[string]any{"service": "pay", "capturePoint": "x", "rateLimit": 2})
	now := time.Now()
	var snaps []any
	for i := range 5 {
		snaps = append(snaps, map[string]any{"id": protocol.NewRecordID(now.Add(time.Duration(i) * time.Millisecond)), "breakpointId": b.ID})
	}
	var out protocol.UploadResponse
	if code := e.call(t, e.sdk, "POST", "/v1/codemon/snapshots", map[string]any{"service": "pay", "snapshots": snaps}, &out); code != 202 {
		t.Fatalf("upload: %d", code)
	}
	if out.Accepted != 2 || out.Rejected != 3 || len(out.Errors) != 1 || !strings.Contains(out.Errors[0], "rate limit of 2 per minute") {
		t.Errorf("upload of 5 with a limit of 2 = %+v", out)
	}
	var list struct {
		Snapshots []struct {
			ID string `json:"id"`
		} `json:"snapshots"`
	}
	e.call(t, e.admin, "GET", "/api/v1/snapshots?breakpoint="+b.ID, nil, &list)
	if len(list.Snapshots) != 2 {
		t.Errorf("%d snapshots stored, want 2", len(list.Snapshots))
	}

	// A malformed or out-of-window ID is refused with the rest kept.
	bad := []any{
		map[string]any{"id": "nonsense", "breakpointId": b.ID},
		map[string]any{"id": protocol.NewRecordID(now.Add(-400 * 24 * time.Hour)), "breakpointId": b.ID},
	}
	out = protocol.UploadResponse{}
	e.call(t, e.sdk, "POST", "/v1/codemon/snapshots", map[string]any{"service": "pay", "snapshots": bad}, &out)
	if out.Accepted != 0 || out.Rejected != 2 {
		t.Errorf("bad IDs = %+v", out)
	}
}
