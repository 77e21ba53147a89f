package web_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// compareTraces is a checkout before (A) and after (B) a change: the
// charge got slower and writes three rows instead of two, the cache call
// is gone, a span with a hostile service and operation got slower and
// another hostile one is new.
func compareTraces(start time.Time) (a, b []telemetry.Span) {
	gw, pay, db := &telemetry.Resource{ServiceName: "gateway"}, &telemetry.Resource{ServiceName: "payments"}, &telemetry.Resource{ServiceName: "postgres"}
	evil, evil2 := &telemetry.Resource{ServiceName: hostileService}, &telemetry.Resource{ServiceName: hostile[4]}
	ms := func(n int) int64 { return start.Add(time.Duration(n) * time.Millisecond).UnixNano() }
	span := func(tid byte, id, parent byte, res *telemetry.Resource, name string, from, to int) telemetry.Span {
		s := telemetry.Span{TraceID: telemetry.TraceID{0xc0, tid}, SpanID: telemetry.SpanID{0xc0, tid, id}, Name: name, Resource: res,
			StartUnixNano: ms(from), EndUnixNano: ms(to), Kind: telemetry.KindInternal}
		if parent != 0 {
			s.ParentSpanID = telemetry.SpanID{0xc0, tid, parent}
		}
		return s
	}
	a = []telemetry.Span{
		span(1, 1, 0, gw, "POST /checkout", 0, 100),
		span(1, 2, 1, pay, "charge", 10, 50),
		span(1, 3, 2, db, "INSERT", 12, 17),
		span(1, 4, 2, db, "INSERT", 20, 25),
		span(1, 5, 1, gw, "cache get", 60, 62),
		span(1, 6, 1, evil, hostile[0], 70, 75),
	}
	b = []telemetry.Span{
		span(2, 1, 0, gw, "POST /checkout", 0, 130),
		span(2, 2, 1, pay, "charge", 10, 80),
		span(2, 3, 2, db, "INSERT", 12, 17),
		span(2, 4, 2, db, "INSERT", 20, 25),
		span(2, 5, 2, db, "INSERT", 30, 35),
		span(2, 6, 1, evil, hostile[0], 85, 95),
		span(2, 7, 1, evil2, hostile[5], 100, 101),
	}
	return a, b
}

// compareRows is what the page shows of each row: mark, depth, service,
// operation, delta and the mark's text.
const compareRows = `[...document.querySelectorAll('#tc-rows tbody tr[data-mark]')].map(tr => [tr.dataset.mark, tr.dataset.depth,
	tr.querySelector('.chip').textContent, tr.querySelector('.tc-op').textContent, tr.querySelector('.tc-delta').textContent,
	tr.querySelector('.tc-mark').textContent].join(' | '))`

func TestBrowserTraceCompare(t *testing.T) {
	e := newEnv(t)
	a, b := compareTraces(time.Now().Add(-time.Minute))
	for _, tr := range [][]telemetry.Span{a, b} {
		if err := e.srv.Store().Traces.WriteSpans(context.Background(), "default", tr); err != nil {
			t.Fatal(err)
		}
	}
	ida, idb := a[0].TraceID.String(), b[0].TraceID.String()
	e.signIn("admin", adminPassword)
	e.do(chromedp.WaitVisible(chromedp.CSS("#trace-search")))
	p := e.base + "/p/default"
	want := []string{
		"changed | 0 | gateway | POST /checkout | +30ms | Δ changed",
		"changed | 1 | payments | charge | +30ms | Δ changed",
		"same | 2 | postgres | INSERT | 0 | = same",
		"same | 2 | postgres | INSERT | 0 | = same",
		"added | 2 | postgres | INSERT | +5ms | + added",
		"removed | 1 | gateway | cache get | −2ms | − removed",
		"changed | 1 | " + hostileService + " | " + hostile[0] + " | +5ms | Δ changed",
		"added | 1 | " + hostile[4] + " | " + hostile[5] + " | +1ms | + added",
	}
	checkRows := func(where string, want []string) {
		t.Helper()
		got := eval[[]string](e, compareRows)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: rows\n%s\nwant\n%s", where, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	// The page draws SVG bars of its own: any other svg, or any handler,
	// is a payload come alive.
	checkInert := func(where string) {
		t.Helper()
		got := eval[string](e, `JSON.stringify({
			pwned: typeof window.__pwned,
			injected: document.querySelectorAll('img[src="x"], svg:not(.tc-bar), #injected').length,
			handlers: [...document.querySelectorAll('*')].filter(el => [...el.attributes].some(a => a.name.startsWith('on'))).length,
		})`)
		if got != `{"pwned":"undefined","injected":0,"handlers":0}` {
			t.Errorf("%s: a payload became live markup or script: %s", where, got)
		}
	}
	status := func(path string) int {
		t.Helper()
		ctx, cancel := context.WithTimeout(e.tab, actionTimeout)
		defer cancel()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[int](`fetch(`+jsString(path)+`).then(r => r.status)`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("fetch %s: %v", path, err)
		}
		return s
	}

	t.Run("FromTracePage", func(t *testing.T) {
		e.t = t
		e.do(chromedp.Navigate(p+"/traces/"+ida), chromedp.WaitVisible(chromedp.CSS("#compare-with")),
			chromedp.SendKeys(chromedp.CSS("#compare-b"), idb), chromedp.Click(chromedp.CSS("#compare-go")))
		e.waitFor(`location.pathname.endsWith('/traces/compare') && document.getElementById('tc-rows') !== null`)
		if loc := e.location(); !strings.Contains(loc, "a="+ida) || !strings.Contains(loc, "b="+idb) {
			t.Errorf("the trace page's form led to %s", loc)
		}
		checkRows("trace "+ida+" compared with "+idb, want)
		summary := eval[string](e, `document.getElementById('tc-summary').textContent.replace(/\s+/g, ' ').trim()`)
		if summary != "Trace duration +30ms · Δ 3 changed + 2 added − 1 removed = 2 same" {
			t.Errorf("summary %q", summary)
		}
		// Bars are drawn to the scale of the longer trace, B (130 ms).
		if w := eval[[]string](e, `[...document.querySelectorAll('#tc-rows tbody tr')][0].querySelectorAll('rect').values().map(r => r.getAttribute('width')).toArray()`); strings.Join(w, " ") != "76.92 100.00" {
			t.Errorf("root bars %v, want 76.92 and 100.00 (of 130 ms)", w)
		}
		if links := eval[int](e, `document.querySelectorAll('#tc-rows a[href*="?span="]').length`); links != 13 {
			t.Errorf("%d links to spans, want 13 (6 in A, 7 in B)", links)
		}
		e.checkShows("trace compare", hostileService, hostile[0], hostile[4])
		checkInert("trace compare")
		e.screenshot("trace-compare")
	})

	t.Run("FromSearchResults", func(t *testing.T) {
		e.t = t
		e.do(chromedp.Navigate(p+"/traces?range=1h"), chromedp.WaitVisible(chromedp.CSS("#trace-results")),
			chromedp.Click(chromedp.CSS(`input[name=a][value="`+ida+`"]`)),
			chromedp.Click(chromedp.CSS(`input[name=b][value="`+idb+`"]`)),
			chromedp.Click(chromedp.CSS("#compare-picked")))
		e.waitFor(`location.pathname.endsWith('/traces/compare') && document.getElementById('tc-rows') !== null`)
		if loc := e.location(); !strings.Contains(loc, "a="+ida) || !strings.Contains(loc, "b="+idb) {
			t.Errorf("the search results' picks led to %s", loc)
		}
		checkRows("picked in the search results", want)
		checkInert("search results")
	})

	t.Run("DifferencesOnlyAndSwap", func(t *testing.T) {
		e.t = t
		e.do(chromedp.Navigate(p+"/traces/compare?a="+ida+"&b="+idb), chromedp.WaitVisible(chromedp.CSS("#tc-rows")),
			chromedp.Click(chromedp.CSS("#tc-diff")), chromedp.Click(chromedp.CSS("#tc-submit")))
		e.waitFor(`location.search.includes('only=diff') && document.getElementById('tc-hidden') !== null`)
		var diff []string
		for _, w := range want {
			if !strings.HasPrefix(w, "same") {
				diff = append(diff, w)
			}
		}
		checkRows("differences only", diff)
		e.do(chromedp.Click(chromedp.CSS("#tc-swap")))
		e.waitFor(`location.search.includes('a=` + idb + `') && document.getElementById('tc-rows') !== null`)
		// B against A: what was added is removed, deltas change sign.
		swapped := eval[[]string](e, compareRows)
		if len(swapped) != len(diff) || !strings.HasPrefix(swapped[0], "changed | 0 | gateway | POST /checkout | −30ms") ||
			!strings.Contains(strings.Join(swapped, "\n"), "removed | 2 | postgres | INSERT | −5ms") ||
			!strings.Contains(strings.Join(swapped, "\n"), "added | 1 | gateway | cache get | +2ms") {
			t.Errorf("swapped:\n%s", strings.Join(swapped, "\n"))
		}
	})

	t.Run("Errors", func(t *testing.T) {
		e.t = t
		missing := "0123456789abcdef0123456789abcdef"
		f := func(query string, wantStatus int, wantMsg string) {
			t.Helper()
			e.do(chromedp.Navigate(p+"/traces/compare?"+query), chromedp.WaitVisible(chromedp.CSS("#tc-form")))
			msg := eval[string](e, `document.getElementById('tc-error')?.textContent ?? ''`)
			if s := status(p + "/traces/compare?" + query); s != wantStatus || !strings.Contains(msg, wantMsg) {
				t.Errorf("?%s: %d %q, want %d and a message saying %q", query, s, msg, wantStatus, wantMsg)
			}
			q, _ := url.ParseQuery(query)
			if v := eval[string](e, `document.getElementById('tc-a').value + '&' + document.getElementById('tc-b').value`); v != q.Get("a")+"&"+q.Get("b") {
				t.Errorf("?%s: the form shows %q, not what was asked", query, v)
			}
		}
		f("", 200, "")
		f("a="+ida, 400, "Trace B: give the ID")
		f("a="+ida+"&b=nothex", 400, "Trace B: ")
		f("a="+missing+"&b="+idb, 404, "Trace A "+missing+": not found")
		f("a="+ida+"&b="+missing, 404, "Trace B "+missing+": not found")
		// A trace compared with itself: all the same.
		e.do(chromedp.Navigate(p+"/traces/compare?a="+ida+"&b="+ida), chromedp.WaitVisible(chromedp.CSS("#tc-rows")))
		if marks := eval[string](e, `[...document.querySelectorAll('#tc-rows tbody tr')].map(tr => tr.dataset.mark).join(' ')`); marks != strings.TrimSpace(strings.Repeat("same ", len(a))) {
			t.Errorf("a trace against itself: %s", marks)
		}
		checkInert(fmt.Sprintf("trace %s against itself", ida))
	})
}
