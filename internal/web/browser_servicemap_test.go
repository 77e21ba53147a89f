package web_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// serviceMapTraces are n traces of a frontend with a script-shaped name
// calling backend (every fifth call failing), which queries a database
// whose system name is script-shaped too.
func serviceMapTraces(frontend, database string, n int, start time.Time) []telemetry.Span {
	res := func(s string) *telemetry.Resource {
		return &telemetry.Resource{ServiceName: s, Attributes: []telemetry.Attribute{{Key: "service.name", Value: telemetry.StringValue(s)}}}
	}
	fe, be := res(frontend), res("backend")
	var out []telemetry.Span
	for i := range n {
		tid := telemetry.TraceID{0x5a, 0x3a, byte(i)}
		at := start.Add(time.Duration(i) * time.Second).UnixNano()
		sp := func(id, parent byte, r *telemetry.Resource, kind telemetry.SpanKind, d time.Duration, attrs ...telemetry.Attribute) telemetry.Span {
			s := telemetry.Span{TraceID: tid, SpanID: telemetry.SpanID{id}, Name: "<b>op</b>", Kind: kind, Resource: r,
				StartUnixNano: at, EndUnixNano: at + int64(d), Attributes: attrs}
			if parent != 0 {
				s.ParentSpanID = telemetry.SpanID{parent}
			}
			return s
		}
		srv := sp(3, 2, be, telemetry.KindServer, 40*time.Millisecond)
		if i%5 == 0 {
			srv.StatusCode = telemetry.StatusError
		}
		out = append(out,
			sp(1, 0, fe, telemetry.KindServer, 60*time.Millisecond),
			sp(2, 1, fe, telemetry.KindClient, 50*time.Millisecond, telemetry.Attribute{Key: "server.address", Value: telemetry.StringValue("backend")}),
			srv,
			sp(4, 3, be, telemetry.KindClient, 5*time.Millisecond, telemetry.Attribute{Key: "db.system.name", Value: telemetry.StringValue(database)}),
		)
	}
	return out
}

// TestBrowserServiceMap seeds traces of known shape and checks, in
// Chromium, the map's nodes and figures, that clicking an edge lists its
// traces and leads to them, and that names are shown as text.
func TestBrowserServiceMap(t *testing.T) {
	e := newEnv(t)
	const frontend = `<img src=x onerror=alert(1)>`
	database := hostileService // `"><img src=x onerror="window.__pwned=2">`
	spans := serviceMapTraces(frontend, database, 10, time.Now().Add(-5*time.Minute))
	if err := e.srv.Store().Traces.WriteSpans(context.Background(), "default", spans); err != nil {
		t.Fatal(err)
	}
	e.signIn("admin", adminPassword)
	e.do(chromedp.WaitVisible(chromedp.CSS("#trace-search")))
	e.do(chromedp.Navigate(e.base+"/p/default/servicemap?range=1h"), chromedp.WaitVisible(chromedp.CSS("#service-map")))

	nodes := eval[[]string](e, `[...document.querySelectorAll('#service-map .sm-node')].map(g => g.dataset.kind + ' ' + g.querySelector('title').textContent)`)
	wantNodes := []string{
		"service " + frontend + " (service)",
		"service backend (service)",
		"database " + database + " (database)",
	}
	if fmt.Sprint(nodes) != fmt.Sprint(wantNodes) {
		t.Errorf("nodes:\n%q\nwant:\n%q", nodes, wantNodes)
	}
	// Edges are sorted by caller: "<img ..." before "backend".
	figures := eval[[]string](e, `[...document.querySelectorAll('#service-map .sm-edge')].map(g => g.querySelector('title').textContent + ': ' + g.querySelector('.sm-figures').textContent)`)
	wantFigures := []*regexp.Regexp{
		regexp.MustCompile(`^` + regexp.QuoteMeta(frontend+" → backend: 10 calls · 20% err · p95 ") + `(39\.\d|40(\.\d)?)ms$`),
		regexp.MustCompile(`^` + regexp.QuoteMeta("backend → "+database+": 10 calls · 0% err · p95 ") + `(4\.9\d|5(\.\d\d?)?)ms$`),
	}
	if len(figures) != len(wantFigures) {
		t.Fatalf("edges: %q, want 2", figures)
	}
	for i, re := range wantFigures {
		if !re.MatchString(figures[i]) {
			t.Errorf("edge %d shows %q, want %v", i, figures[i], re)
		}
	}
	if n := eval[int](e, `document.querySelectorAll('.sm-node.sm-database rect[rx="22"]').length`); n != 1 {
		t.Errorf("%d database nodes drawn as leaves, want 1", n)
	}
	e.checkMapNoScriptRan("service map")
	e.checkShows("service map", frontend, database)
	e.screenshot("servicemap")

	// Clicking the first edge's figures shows its traces.
	if eval[bool](e, `!document.getElementById('sm-edge-0').hidden`) {
		t.Fatalf("edge details shown before any click")
	}
	e.do(chromedp.Click(chromedp.CSS(`.sm-edge[data-edge="0"] .sm-figures`)))
	e.waitFor(`!document.getElementById('sm-edge-0').hidden && document.getElementById('sm-edge-1').hidden`)
	links := eval[[]string](e, `[...document.querySelectorAll('#sm-edge-0 a.sm-trace')].map(a => new URL(a.href).pathname)`)
	if len(links) == 0 || len(links) > 5 {
		t.Fatalf("edge lists %d traces, want 1 to 5: %q", len(links), links)
	}
	for _, l := range links {
		if !strings.HasPrefix(l, "/p/default/traces/5a3a") {
			t.Errorf("trace link %q is not one of the seeded traces", l)
		}
	}
	if search := eval[string](e, `new URL(document.querySelector('#sm-edge-0 a.sm-search').href).search`); !strings.Contains(search, "service=backend") {
		t.Errorf("search link %q does not search the callee", search)
	}
	e.checkMapNoScriptRan("service map, edge open")
	e.do(chromedp.Click(chromedp.CSS(`#sm-edge-0 a.sm-trace`)))
	e.waitFor(`location.pathname === ` + jsString(links[0]) + ` && document.getElementById('waterfall') !== null`)

	// A row of the table opens the same details as its edge.
	e.do(chromedp.Navigate(e.base+"/p/default/servicemap?range=1h"), chromedp.WaitVisible(chromedp.CSS("#sm-edges")))
	e.do(chromedp.Click(chromedp.CSS(`tr.sm-row[data-edge="1"]`)))
	e.waitFor(`!document.getElementById('sm-edge-1').hidden && document.querySelector('.sm-edge[data-edge="1"]').classList.contains('on')`)
	if got := eval[string](e, `document.querySelector('#sm-edge-1 h2').textContent`); !strings.Contains(got, database) {
		t.Errorf("details of edge 1: %q", got)
	}
}

// checkMapNoScriptRan is checkNoScriptRan for a page that draws an SVG of
// its own: no payload ran or became an element.
func (e *env) checkMapNoScriptRan(page string) {
	e.t.Helper()
	got := eval[string](e, `JSON.stringify({
		pwned: typeof window.__pwned,
		injected: document.querySelectorAll('img, svg:not(#service-map), #injected').length,
		scripts: [...document.scripts].filter(s => !(s.src && new URL(s.src).pathname.startsWith('/static/'))).length,
		handlers: [...document.querySelectorAll('*')].filter(el => [...el.attributes].some(a => a.name.startsWith('on'))).length,
	})`)
	if got != `{"pwned":"undefined","injected":0,"scripts":0,"handlers":0}` {
		e.t.Errorf("%s: a name became live markup or script: %s", page, got)
	}
}
