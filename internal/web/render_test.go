package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tracekit-oss/tracekit/internal/codemon"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

const payload = `</script><script>alert(1)</script>"><img src=x onerror=alert(2)>`

// TestEscaping: names, keys and values from outside reach the HTML only
// escaped, and the waterfall's JSON cannot end its script element.
func TestEscaping(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.user("alice@example.com", "correct horse", false, "p1")
	sp := span("p1", 9, payload, payload, h.clock().Add(-time.Minute))
	sp.Attributes = []telemetry.Attribute{{Key: payload, Value: telemetry.StringValue(payload)}}
	if err := h.st.WriteSpans(ctx, "p1", []telemetry.Span{sp}); err != nil {
		t.Fatal(err)
	}
	cm := codemon.New(h.st, h.d.log, codemon.Options{Now: h.clock})
	b, err := cm.CreateBreakpoint(ctx, "p1", codemon.BreakpointInput{Service: ptr(payload), CapturePoint: ptr(payload)})
	if err != nil {
		t.Fatal(err)
	}
	vars, _ := json.Marshal(map[string]any{payload: map[string]any{payload: payload}})
	snaps := []store.Snapshot{{BreakpointID: b.ID, Service: payload, Host: payload, File: payload, Time: h.clock().Add(-time.Second), Variables: vars,
		Stack: []store.Frame{{Function: payload, File: payload, Line: 1}}}}
	if err := h.st.WriteSnapshots(ctx, "p1", snaps); err != nil {
		t.Fatal(err)
	}
	if err := h.st.WriteLogs(ctx, "p1", []store.LogLine{{BreakpointID: b.ID, Service: payload, Message: payload, Time: h.clock().Add(-time.Second)}}); err != nil {
		t.Fatal(err)
	}
	c := h.signedIn("alice@example.com", "correct horse")
	trace := sp.TraceID.String()
	for _, path := range []string{
		"/p/p1/traces", "/p/p1/traces?service=" + url.QueryEscape(payload), "/p/p1/traces/" + trace, "/p/p1/services",
		"/p/p1/codemon?service=" + url.QueryEscape(payload), "/p/p1/codemon/new?service=" + url.QueryEscape(payload),
		"/p/p1/snapshots", "/p/p1/snapshots/" + snaps[0].ID, "/p/p1/compare?a=" + snaps[0].ID + "&b=" + snaps[0].ID, "/p/p1/logs",
	} {
		resp, body := h.get(c, path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", path, resp.StatusCode)
			continue
		}
		for _, raw := range []string{"<script>alert", "<img src=x", `"><img`} {
			if strings.Contains(body, raw) {
				t.Errorf("%s contains %q unescaped", path, raw)
			}
		}
	}
	_, body := h.get(c, "/p/p1/traces/"+trace)
	start := strings.Index(body, `<script type="application/json" id="trace-data">`)
	end := strings.Index(body[start:], "</script>")
	if start < 0 || end < 0 {
		t.Fatal("no trace payload in the page")
	}
	raw := body[start+len(`<script type="application/json" id="trace-data">`) : start+end]
	var got wfTrace
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("payload is not JSON: %v\n%s", err, raw)
	}
	if strings.ContainsAny(raw, "<>") || got.Spans[0].Operation != payload || got.Services[0] != payload || got.Spans[0].Attrs[payload] != payload {
		t.Errorf("payload = %s", raw)
	}
}

func TestBreakpointForm(t *testing.T) {
	h := newHarness(t)
	h.user("alice@example.com", "correct horse", false, "p1")
	c := h.signedIn("alice@example.com", "correct horse")
	tok := h.token(c, "/p/p1/codemon/new?service=checkout")
	_, form := h.get(c, "/p/p1/codemon/new?service=checkout")
	for _, want := range []string{`name="captureDepth" id="bp-depth" value="3"`, `name="rateLimit" id="bp-rate" value="10"`, `<option value="24h" selected>`} {
		if !strings.Contains(form, want) {
			t.Errorf("form lacks the default %s", want)
		}
	}
	f := func(fields url.Values, wantStatus int, wantField, wantMsg string) {
		t.Helper()
		fields.Set("csrf", tok)
		resp, body := h.post(c, "/p/p1/codemon/breakpoints", fields)
		if resp.StatusCode != wantStatus {
			t.Errorf("%v: %d, want %d", fields, resp.StatusCode, wantStatus)
			return
		}
		if wantField != "" && (!strings.Contains(body, `id="err-`+wantField+`"`) || !strings.Contains(body, wantMsg)) {
			t.Errorf("%v: no error %q next to %s", fields, wantMsg, wantField)
		}
	}
	base := func(kv ...string) url.Values {
		v := url.Values{"service": {"checkout"}, "file": {"pay.go"}, "line": {"42"}, "type": {"line"}, "captureDepth": {"3"}, "rateLimit": {"10"}, "expiresIn": {"24h"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	f(base("type", "conditional", "condition", "order.total >"), http.StatusUnprocessableEntity, "condition", "unexpected end")
	f(base("type", "conditional", "condition", ""), http.StatusUnprocessableEntity, "condition", "needs a condition")
	f(base("type", "logpoint", "message", ""), http.StatusUnprocessableEntity, "message", "needs a message")
	f(base("line", "forty"), http.StatusUnprocessableEntity, "line", "whole number")
	f(base("captureDepth", "11"), http.StatusUnprocessableEntity, "captureDepth", "from 1 to 10")
	f(base("rateLimit", "0"), http.StatusUnprocessableEntity, "rateLimit", "snapshots per minute")
	f(base("service", ""), http.StatusUnprocessableEntity, "service", "choose the service")
	f(base("file", ""), http.StatusUnprocessableEntity, "file", "set a file and line")
	f(base("expiresIn", "forever"), http.StatusUnprocessableEntity, "expiresIn", "positive duration")
	f(base("type", "conditional", "condition", "user.id == \"abc123\""), http.StatusSeeOther, "", "")
	bps, _ := h.st.ListBreakpoints(context.Background(), "p1", "checkout")
	if len(bps) != 1 || bps[0].Type != store.BreakpointConditional || bps[0].CaptureDepth != 3 || bps[0].RateLimit != 10 ||
		bps[0].ExpiresAt.Sub(h.clock()) != 24*time.Hour {
		t.Fatalf("stored = %+v", bps)
	}
	for _, action := range []string{"pause", "resume", "delete"} {
		if resp, _ := h.post(c, "/p/p1/codemon/breakpoints/"+bps[0].ID+"/"+action, url.Values{"csrf": {tok}}); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("%s: %d", action, resp.StatusCode)
		}
	}
	if _, err := h.st.Breakpoint(context.Background(), "p1", bps[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}

func TestSettings(t *testing.T) {
	h := newHarness(t)
	h.user("root@example.com", "correct horse", true, "p1")
	h.user("alice@example.com", "correct horse", false, "p1")
	alice := h.signedIn("alice@example.com", "correct horse")
	if resp, _ := h.post(alice, "/p/p1/settings/retention", url.Values{"csrf": {h.token(alice, "/p/p1/settings")}, "traceRetention": {"1h"}, "snapshotRetention": {"1h"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a non-admin changes retention: %d", resp.StatusCode)
	}
	root := h.signedIn("root@example.com", "correct horse")
	tok := h.token(root, "/p/p1/settings")
	if resp, body := h.post(root, "/p/p1/settings/retention", url.Values{"csrf": {tok}, "traceRetention": {"10m"}, "snapshotRetention": {"7d"}}); resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "from 1h") {
		t.Errorf("retention of 10m: %d", resp.StatusCode)
	}
	if resp, _ := h.post(root, "/p/p1/settings/retention", url.Values{"csrf": {tok}, "traceRetention": {"72h"}, "snapshotRetention": {"7d"}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("save retention: %d", resp.StatusCode)
	}
	if s, _ := h.st.Settings(context.Background()); s.TraceRetention != 72*time.Hour || s.SnapshotRetention != 7*24*time.Hour {
		t.Errorf("stored settings = %+v", s)
	}
	resp, body := h.post(alice, "/p/p1/settings/keys", url.Values{"csrf": {h.token(alice, "/p/p1/settings")}, "name": {"ci"}, "scope": {"ingest"}})
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Cache-Control") != "no-store" || !strings.Contains(body, `id="secret-value">tk_`) {
		t.Fatalf("create key: %d", resp.StatusCode)
	}
	keys, _ := h.st.ListKeys(context.Background(), "p1")
	if len(keys) != 1 || keys[0].Scope != store.ScopeIngest {
		t.Fatalf("keys = %+v", keys)
	}
	if resp, _ := h.post(alice, "/p/p1/settings/keys/"+keys[0].ID+"/revoke", url.Values{"csrf": {h.token(alice, "/p/p1/settings")}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("revoke: %d", resp.StatusCode)
	}
	if keys, _ = h.st.ListKeys(context.Background(), "p1"); !keys[0].Revoked() {
		t.Error("key not revoked")
	}
}

func TestBootstrap(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	pw, err := Bootstrap(ctx, h.st, "", h.clock())
	if err != nil || len(pw) < 16 {
		t.Fatalf("first start: %q, %v", pw, err)
	}
	u, err := h.st.UserByEmail(ctx, AdminUser)
	if err != nil || !u.Admin || !u.MemberOf("default") || bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(pw)) != nil {
		t.Fatalf("admin = %+v, %v", u, err)
	}
	if again, err := Bootstrap(ctx, h.st, "", h.clock()); again != "" || err != nil {
		t.Errorf("second start created another password: %q, %v", again, err)
	}
	if pw2, err := Bootstrap(ctx, h.st, "seeded password", h.clock()); pw2 != "" || err != nil {
		t.Fatalf("seed: %q %v", pw2, err)
	}
	u, _ = h.st.UserByEmail(ctx, AdminUser)
	if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte("seeded password")) != nil {
		t.Error("TRACEKIT_ADMIN_PASSWORD did not set the admin's password")
	}
	if _, err := Bootstrap(ctx, h.st, "short", h.clock()); err == nil {
		t.Error("a 5-character seed password was accepted")
	}
	if _, err := CreateUser(ctx, h.st, "x@example.com", "long enough", []string{"missing"}, false, h.clock()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("user in a missing project: %v", err)
	}
	if _, err := CreateUser(ctx, h.st, "admin", "long enough", nil, false, h.clock()); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second admin: %v", err)
	}
}

// TestWaterfallTree checks the rows the trace page draws: tracetree's order
// (its own tests pin the rules), plus each row's gap, which is the page's.
func TestWaterfallTree(t *testing.T) {
	at := func(ms int) int64 { return int64(ms) * 1e6 }
	mk := func(id, parent byte, start, end int) telemetry.Span {
		s := telemetry.Span{SpanID: telemetry.SpanID{id}, StartUnixNano: at(start), EndUnixNano: at(end)}
		if parent != 0 {
			s.ParentSpanID = telemetry.SpanID{parent}
		}
		return s
	}
	// 1 ─┬ 2 ── 4      9 is an orphan (parent 8 missing);
	//    └ 3           5 and 6 are a cycle no root reaches.
	// 7 and 3 start together: the lower ID comes first.
	spans := []telemetry.Span{mk(6, 5, 76, 77), mk(1, 0, 0, 100), mk(2, 1, 10, 40), mk(4, 2, 15, 30), mk(9, 8, 70, 80), mk(7, 1, 60, 65), mk(3, 1, 60, 90), mk(5, 6, 75, 78)}
	got := buildWaterfall(spans, nil).Spans
	type row struct {
		id             byte
		depth, subtree int
		orphan         bool
		gapMS          float64
	}
	var rows []row
	for _, s := range got {
		id, err := telemetry.ParseSpanID(s.ID)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row{id[0], s.Depth, s.Subtree, s.Orphan, s.Gap / 1e3})
	}
	want := []row{{1, 0, 4, false, 0}, {2, 1, 1, false, 10}, {4, 2, 0, false, 5}, {3, 1, 0, false, 20}, {7, 1, 0, false, 0}, {9, 0, 0, true, 0}, {5, 0, 1, true, 0}, {6, 1, 0, false, 1}}
	if len(rows) != len(want) {
		t.Fatalf("rows = %+v", rows)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, rows[i], want[i])
		}
	}
}

func TestDiffRows(t *testing.T) {
	a := json.RawMessage(`{"order":{"id":"o-1","items":["a","b"]},"user":"u","n":1,"odd key":true}`)
	b := json.RawMessage(`{"order":{"id":"o-2","items":["a"]},"n":1,"coupon":{"code":"X"},"odd key":true}`)
	d, err := codemon.Compare(a, b)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range diffRows(a, b, d) {
		got[r.Path] = r.Mark
	}
	want := map[string]string{"order.id": "changed", "order.items[0]": "", "order.items[1]": "removed", "user": "removed", "n": "", `["odd key"]`: "", "coupon.code": "added"}
	for p, m := range want {
		if got[p] != m {
			t.Errorf("%s marked %q, want %q (all: %v)", p, got[p], m, got)
		}
	}
}

func TestFormats(t *testing.T) {
	dur := func(d time.Duration, want string) {
		t.Helper()
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
	}
	dur(0, "0")
	dur(850*time.Nanosecond, "850ns")
	dur(1234*time.Microsecond, "1.23ms")
	dur(412*time.Millisecond, "412ms")
	dur(2170*time.Millisecond, "2.17s")
	dur(720*time.Hour, "30d")
	dur(36*time.Hour, "36h")
	ret := func(s string, want time.Duration, ok bool) {
		t.Helper()
		got, err := parseRetention(s)
		if (err == nil) != ok || got != want {
			t.Errorf("parseRetention(%q) = %v, %v", s, got, err)
		}
	}
	ret("720h", 720*time.Hour, true)
	ret("30d", 720*time.Hour, true)
	ret("90m", 90*time.Minute, true)
	ret("59m", 0, false)
	ret("3x", 0, false)
	ret("1.5d", 0, false)
	rates := map[float64]string{0: "0/s", 25: "25/s", 2.5: "2.5/s", 0.5: "30/min", 1.0 / 3600: "1/h"}
	for v, want := range rates {
		if got := formatRate(v); got != want {
			t.Errorf("formatRate(%v) = %q, want %q", v, got, want)
		}
	}
}

// TestParseRange covers what the pages add to api.ParseTimeRange (whose own
// test covers the time forms and bounds): the range menu, its default and
// custom ranges.
func TestParseRange(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 0, 0, time.UTC)
	at := func(h, m int) time.Time { return time.Date(2026, 1, 2, h, m, 0, 0, time.UTC) }
	tests := []struct {
		name     string
		query    string
		rng      string // the range the form shows
		from, to time.Time
		msg      string // a part of the message; "" for none
	}{
		{"missing: the default", "", "1h", now.Add(-time.Hour), now, ""},
		{"an offered range", "range=15m", "15m", now.Add(-15 * time.Minute), now, ""},
		{"seven days", "range=168h", "168h", now.Add(-168 * time.Hour), now, ""},
		{"custom until now", "range=custom&start=2026-01-02T14:00", "custom", at(14, 0), now, ""},
		{"custom", "range=custom&start=2026-01-02T14:00&end=2026-01-02T14:30", "custom", at(14, 0), at(14, 30), ""},
		{"custom in RFC 3339", "range=custom&start=2026-01-02T14:00:00%2B01:00&end=2026-01-02T14:30:00Z", "custom", at(13, 0), at(14, 30), ""},
		{"start and end ignored unless custom", "range=6h&start=bad", "6h", now.Add(-6 * time.Hour), now, ""},

		{"a range not offered", "range=2h", "1h", time.Time{}, time.Time{}, `Range "2h": choose one of the ranges offered.`},
		{"a bogus range", "range=bogus", "1h", time.Time{}, time.Time{}, `Range "bogus"`},
		{"custom without start", "range=custom&end=2026-01-02T14:00", "custom", time.Time{}, time.Time{}, "Start: give the date and time"},
		{"bad custom start", "range=custom&start=yesterday", "custom", time.Time{}, time.Time{}, `Time range: start "yesterday": use RFC 3339`},
		{"bad custom end", "range=custom&start=2026-01-02T14:00&end=soon", "custom", time.Time{}, time.Time{}, `Time range: end "soon"`},
		{"end before start", "range=custom&start=2026-01-02T14:00&end=2026-01-02T13:00", "custom", time.Time{}, time.Time{}, "is after end"},
		{"start after now", "range=custom&start=2026-01-02T16:00", "custom", time.Time{}, time.Time{}, "is after end"},
		{"absurd start", "range=custom&start=1900-01-01T00:00", "custom", time.Time{}, time.Time{}, "use a time between 1970 and 2262"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			tr, msg := parseRange(q, "1h", now)
			if tr.Range != tt.rng {
				t.Errorf("range shown = %q, want %q", tr.Range, tt.rng)
			}
			switch {
			case tt.msg != "":
				if !strings.Contains(msg, tt.msg) {
					t.Errorf("message = %q, want one with %q", msg, tt.msg)
				}
			case msg != "":
				t.Errorf("message = %q", msg)
			case !tr.from.Equal(tt.from) || !tr.to.Equal(tt.to):
				t.Errorf("range = %v to %v, want %v to %v", tr.from, tr.to, tt.from, tt.to)
			}
		})
	}
}

// TestBootstrapRace: replicas sharing a metadata store start at the same
// moment; each one's Bootstrap succeeds, and one admin user exists.
func TestBootstrapRace(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	passwords := make([]string, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			passwords[i], errs[i] = Bootstrap(ctx, h.st, "", h.clock())
		}()
	}
	wg.Wait()
	printed := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("server %d: %v", i, err)
		}
		if passwords[i] != "" {
			printed++
		}
	}
	if printed < 1 {
		t.Error("no server printed the admin's password")
	}
	if users, _ := h.st.ListUsers(ctx); len(users) != 1 {
		t.Errorf("%d users, want one admin", len(users))
	}
}
