package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// critpathTrace is a request with two parallel calls (the slower, with a
// call of its own, on the critical path), a later call after them, a fast
// call in the shadow of the slow one, and an async call that outlives the
// request. Every name is a payload of hostile.
//
//	root  0-100 ms   on the path 0-10, 60-70, 90-95
//	fast  10-40      not on the path: it ran in slow's shadow
//	slow  10-60      on the path 10-20, 30-60
//	inner 20-30      on the path
//	later 70-90      on the path
//	async 95-200     on the path 95-100, cut at root's end
func critpathTrace(start time.Time) []telemetry.Span {
	tid := telemetry.TraceID{0xc7, 1, 2, 3}
	res := &telemetry.Resource{ServiceName: hostileService, Attributes: []telemetry.Attribute{{Key: "service.name", Value: telemetry.StringValue(hostileService)}}}
	ms := func(n int) int64 { return start.Add(time.Duration(n) * time.Millisecond).UnixNano() }
	span := func(id, parent byte, name string, from, to int) telemetry.Span {
		s := telemetry.Span{TraceID: tid, SpanID: telemetry.SpanID{0xc7, id}, Name: name, Kind: telemetry.KindInternal, Resource: res,
			StartUnixNano: ms(from), EndUnixNano: ms(to)}
		if parent != 0 {
			s.ParentSpanID = telemetry.SpanID{0xc7, parent}
		}
		return s
	}
	return []telemetry.Span{
		span(1, 0, hostile[0], 0, 100),
		span(2, 1, hostile[1], 10, 40),
		span(3, 1, hostile[3], 10, 60),
		span(4, 3, hostile[4], 20, 30),
		span(5, 1, hostile[5], 70, 90),
		span(6, 1, hostile[6], 95, 200),
	}
}

// TestBrowserCriticalPath turns the waterfall's critical path on and off,
// and opens it from a shared URL: the critical part of exactly the spans
// on the path is drawn over their bars, and hostile names stay text.
func TestBrowserCriticalPath(t *testing.T) {
	e := newEnv(t)
	spans := critpathTrace(time.Now().Add(-time.Minute))
	if err := e.srv.Store().Traces.WriteSpans(context.Background(), "default", spans); err != nil {
		t.Fatal(err)
	}
	id := func(b byte) string { return telemetry.SpanID{0xc7, b}.String() }
	// Span ID → its segments, as [from, to] in milliseconds of the
	// trace, which lasts 200 ms.
	want := map[string][][2]float64{
		id(1): {{0, 10}, {60, 70}, {90, 95}},
		id(3): {{10, 20}, {30, 60}},
		id(4): {{20, 30}},
		id(5): {{70, 90}},
		id(6): {{95, 100}},
	}
	e.signIn("admin", adminPassword)
	e.do(chromedp.WaitVisible(chromedp.CSS("#trace-search")))
	page := e.base + "/p/default/traces/" + spans[0].TraceID.String()
	e.do(chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#waterfall[data-ready="true"]`)))

	// The highlighted rows, by span ID, each with its segments' left and
	// right edges as drawn, in milliseconds of the trace.
	highlighted := func() map[string][][2]float64 {
		t.Helper()
		got := eval[map[string][][2]float64](e, `(() => {
			const data = JSON.parse(document.getElementById('trace-data').textContent), out = {};
			for (const row of document.querySelectorAll('.wf-row:not(.hidden)')) {
				const segs = row.querySelectorAll('.wf-cpseg');
				if (!segs.length) continue;
				const track = row.querySelector('.wf-track').getBoundingClientRect();
				out[data.spans[+row.dataset.i].id] = [...segs].map(s => {
					const r = s.getBoundingClientRect(), ms = data.duration / 1000 / track.width;
					return [(r.left - track.left) * ms, (r.right - track.left) * ms];
				});
			}
			return out;
		})()`)
		return got
	}
	check := func(when string, want map[string][][2]float64) {
		t.Helper()
		got := highlighted()
		if len(got) != len(want) {
			t.Errorf("%s: %d rows highlighted, want %d: %v", when, len(got), len(want), got)
		}
		for span, segs := range want {
			g := got[span]
			ok := len(g) == len(segs)
			for k := 0; ok && k < len(g); k++ {
				// Within a millisecond, two pixels or less.
				ok = abs(g[k][0]-segs[k][0]) < 1 && abs(g[k][1]-segs[k][1]) < 1
			}
			if !ok {
				t.Errorf("%s: span %s drawn at %v, want %v", when, span, g, segs)
			}
		}
	}

	check("before the toggle", nil)
	if p := eval[string](e, `document.getElementById('wf-critical').getAttribute('aria-pressed')`); p != "false" {
		t.Errorf("aria-pressed = %q before the toggle", p)
	}

	e.do(chromedp.Click(chromedp.CSS("#wf-critical")))
	e.waitFor(`document.querySelectorAll('.wf-cpseg').length > 0 && new URLSearchParams(location.search).get('cp') === '1'`)
	check("toggled on", want)
	e.screenshot("critical-path")
	e.waitText("wf-cp-status", "critical path: 5 spans, 100ms")
	title := eval[string](e, `document.querySelector('.wf-row.critical .wf-bar').title`)
	if title != "critical path: 25ms of 100ms" { // the root, the first row
		t.Errorf("the root's bar says %q", title)
	}
	e.showSpan(0)
	if d := eval[string](e, `document.getElementById('span-details').textContent`); !strings.Contains(d, "critical path25ms") {
		t.Errorf("the details do not give the critical time: %q", d)
	}
	e.checkNoScriptRan("trace page, critical path on")
	e.checkShows("trace page, critical path on", hostile[0], hostile[1], hostile[3], hostile[4], hostile[6])

	e.do(chromedp.Click(chromedp.CSS("#wf-critical")))
	e.waitFor(`document.querySelectorAll('.wf-cpseg').length === 0 && !location.search.includes('cp=')`)
	check("toggled off", nil)
	if n := eval[int](e, `document.querySelectorAll('.wf-row.critical, .wf-bar[title]').length`); n != 0 {
		t.Errorf("%d rows or bars still marked critical", n)
	}
	e.waitText("wf-cp-status", "")

	// A shared URL opens with the path shown.
	e.do(chromedp.Navigate(page+"?cp=1"), chromedp.WaitVisible(chromedp.CSS(`#waterfall[data-ready="true"]`)))
	if p := eval[string](e, `document.getElementById('wf-critical').getAttribute('aria-pressed')`); p != "true" {
		t.Errorf("aria-pressed = %q on a ?cp=1 URL", p)
	}
	check("opened with ?cp=1", want)
	e.checkNoScriptRan("trace page opened with ?cp=1")

	// Collapsing keeps what stays in view right.
	e.do(chromedp.Click(chromedp.CSS("#wf-collapse")))
	e.waitText("wf-status", fmt.Sprintf("%d spans, %d rows shown", len(spans), len(spans)-1))
	delete(want, id(4))
	check("slow collapsed", want)
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
