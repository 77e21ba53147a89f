package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tracekit-oss/tracekit/internal/demo"
	"github.com/tracekit-oss/tracekit/internal/server"
	"github.com/tracekit-oss/tracekit/internal/server/servertest"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/testsupport"
)

// The browser tests drive Debian's Chromium, headless, against a real
// server on a loopback port: what a person sees and clicks.

const (
	adminKey      = servertest.AdminKey
	adminPassword = "browser-test-password"
)

// A browser action, or a wait for what the page does next, may take this
// long on a quiet machine; testsupport.Timeout stretches it for the race
// detector and CI. A busy 2-core machine under -race takes seconds to draw
// the 10,000-span trace.
var (
	actionTimeout = testsupport.Timeout(30 * time.Second)
	waitTimeout   = testsupport.Timeout(30 * time.Second)
)

// env is a running server, its demo data and a signed-in browser tab.
type env struct {
	t      *testing.T
	srv    *servertest.Server
	base   string
	ingest string
	tab    context.Context
}

// newTab starts Chromium with a fresh profile and returns a tab.
func newTab(t *testing.T) context.Context {
	t.Helper()
	return testsupport.NewTab(t, 1440, 900)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	srv := servertest.Start(t, func(c *server.Config) { c.GRPCAddr, c.AdminPassword = "", adminPassword })
	ingest, err := srv.MintKey(context.Background(), "browser test", store.ScopeIngest)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, base: srv.Base, ingest: ingest, tab: newTab(t)}
}

// do runs browser actions with a time limit, failing the test on error.
func (e *env) do(actions ...chromedp.Action[chromedp.Void]) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.tab, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		e.t.Fatalf("browser at %s: %v", e.where(), err)
	}
}

func eval[T any](e *env, expr string) T {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.tab, actionTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		e.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// poll waits until the JavaScript expression is true in the page, for at
// most waitTimeout. The page evaluates it every 50 ms (chromedp.Poll); an
// expression that throws counts as false, and a navigation, which ends a
// poll, starts one in the new page.
func (e *env) poll(expr string) error {
	ctx, cancel := context.WithTimeout(e.tab, waitTimeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	pred := `(() => { try { return !!(` + expr + `) } catch (_) { return false } })()`
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return context.DeadlineExceeded
		}
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](pred,
			chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(left)))
		if err == nil || errors.Is(err, chromedp.ErrPollingTimeout) || ctx.Err() != nil {
			return err
		}
		// The page the poll ran in went away: poll the next one.
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// waitFor waits until a JavaScript condition holds, across page loads.
func (e *env) waitFor(expr string) {
	e.t.Helper()
	if err := e.poll(expr); err != nil {
		e.t.Fatalf("waited %v for %s: %v; at %s", waitTimeout, expr, err, e.where())
	}
}

// waitText waits until the element with the id shows exactly want.
func (e *env) waitText(id, want string) {
	e.t.Helper()
	if err := e.poll(fmt.Sprintf(`document.getElementById(%s).textContent === %s`, jsString(id), jsString(want))); err != nil {
		e.t.Fatalf("#%s shows %q after %v, want %q (%v)", id, eval[string](e, `document.getElementById(`+jsString(id)+`)?.textContent ?? '(no element)'`), waitTimeout, want, err)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// clickSpan clicks part (".wf-op" or ".wf-toggle") of the waterfall row of
// span i, its index in the page's tree order. The rows are virtualised: the
// page reuses a row element for another span whenever it redraws, as it
// does on every scroll, so a mouse click aimed at where the row was (and
// chromedp scrolls before it clicks) can land on another span or on none.
// The page's own script finds the row once it is drawn and in view, and
// dispatches the click in the same turn.
func (e *env) clickSpan(i int, part string) {
	e.t.Helper()
	e.waitFor(fmt.Sprintf(`(() => {
		const row = document.querySelector('.wf-row:not(.hidden)[data-i="%d"]');
		if (!row) return false;
		const r = row.getBoundingClientRect(), view = document.getElementById('wf-viewport').getBoundingClientRect();
		if (r.top < view.top || r.bottom > view.bottom) return false;
		row.querySelector(%s).click();
		return true;
	})()`, i, jsString(part)))
}

// showSpan opens the details of span i, as clicking its name does, and
// checks that they are the details of that span.
func (e *env) showSpan(i int) {
	e.t.Helper()
	e.clickSpan(i, ".wf-op")
	// The page shows the details in the click's handler: no wait.
	got := eval[[]string](e, fmt.Sprintf(`(() => {
		const s = JSON.parse(document.getElementById('trace-data').textContent).spans[%d];
		const title = document.getElementById('span-title');
		return [s.op, s.id, title ? title.textContent : '(no details)', document.getElementById('span-details').textContent];
	})()`, i))
	if op, id, title, details := got[0], got[1], got[2], got[3]; !strings.HasSuffix(title, " "+op) || !strings.Contains(details, id) {
		e.t.Errorf("clicking span %d (%q, id %s) shows the details of %q", i, op, id, title)
	}
}

func (e *env) signIn(email, password string) {
	e.t.Helper()
	e.do(
		chromedp.Navigate(e.base+"/login"),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SetValue(chromedp.CSS("#email"), email),
		chromedp.SetValue(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
	)
}

// send posts JSON to the server with a key, as an SDK or script would.
func (e *env) send(method, path, key string, body any) []byte {
	e.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, e.base+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		e.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
	}
	return out
}

func (e *env) seedDemo() {
	e.t.Helper()
	_, err := demo.Run(context.Background(), demo.Config{Endpoint: e.base + "/v1/traces", APIKey: e.ingest, Traces: 40, Rand: rand.New(rand.NewPCG(7, 11))})
	if err != nil {
		e.t.Fatal(err)
	}
	e.send("POST", "/v1/codemon/capture-points", e.ingest, map[string]any{
		"service": "checkout", "environment": "production", "instance": "i-checkout-1", "host": "web-1", "sdk": "go/0.1.0",
		"points": []map[string]any{
			{"name": "payment-failed", "file": "/app/handlers/payment.go", "line": 42, "function": "main.handlePayment"},
			{"name": "cart-loaded", "file": "/app/handlers/cart.go", "line": 17, "function": "main.loadCart"},
		},
	})
}

// snapshot uploads one snapshot of breakpoint bp, as the SDK does.
func (e *env) snapshot(bp, traceID, spanID string, vars map[string]any) {
	e.t.Helper()
	e.send("POST", "/v1/codemon/snapshots", e.ingest, map[string]any{
		"service": "checkout", "environment": "production", "instance": "i-checkout-1", "host": "web-1", "sdk": "go/0.1.0",
		"snapshots": []map[string]any{{
			"breakpointId": bp, "capturePoint": "payment-failed", "file": "/app/handlers/payment.go", "line": 42,
			"function": "main.handlePayment", "time": time.Now().UTC(), "traceId": traceID, "spanId": spanID, "variables": vars,
			"stack": []map[string]any{
				{"function": "main.handlePayment", "file": "/app/handlers/payment.go", "line": 42},
				{"function": "net/http.HandlerFunc.ServeHTTP", "file": "/usr/local/go/src/net/http/server.go", "line": 2294},
			},
		}},
	})
}

// screenshot saves the viewport as docs/screenshots/NAME.png when
// TRACEKIT_UPDATE_SCREENSHOTS=1.
func (e *env) screenshot(name string) {
	e.t.Helper()
	if os.Getenv("TRACEKIT_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	ctx, cancel := context.WithTimeout(e.tab, actionTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		e.t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join("..", "..", "docs", "screenshots", name+".png")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.t.Logf("wrote %s", path)
}

func (e *env) location() string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.tab, actionTimeout)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		e.t.Fatal(err)
	}
	return loc
}

// where is the page's URL for a failure message; it never fails the test
// itself, so that the message keeps the error it reports.
func (e *env) where() string {
	ctx, cancel := context.WithTimeout(e.tab, actionTimeout)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return fmt.Sprintf("(unknown: %v)", err)
	}
	return loc
}

// TestBrowser walks through the dashboard as a person would, in one
// browser, in order: each step builds on the one before.
func TestBrowser(t *testing.T) {
	e := newEnv(t)
	e.seedDemo()
	var bpID, traceID, spanID string

	t.Run("SignIn", func(t *testing.T) {
		e.t = t
		e.do(chromedp.Navigate(e.base + "/p/default/services"))
		if loc := e.location(); !strings.Contains(loc, "/login?next=") {
			t.Fatalf("signed out visit landed on %s, want the sign-in page", loc)
		}
		e.signIn("admin", "wrong password")
		e.do(chromedp.WaitVisible(chromedp.CSS("#login-error")))
		if msg := eval[string](e, `document.getElementById('login-error').textContent`); msg != "Wrong email or password." {
			t.Errorf("error shown = %q", msg)
		}
		e.signIn("admin", adminPassword)
		e.do(chromedp.WaitVisible(chromedp.CSS("#trace-search")))
		if loc := e.location(); !strings.HasSuffix(loc, "/p/default/traces") {
			t.Errorf("after sign-in: %s", loc)
		}
		if c := eval[string](e, `document.cookie`); strings.Contains(c, "tk_session") {
			t.Errorf("the session cookie is readable from script: %q", c)
		}
	})

	t.Run("SearchTraces", func(t *testing.T) {
		e.t = t
		e.do(
			chromedp.SetValue(chromedp.CSS("#f-service"), "api-gateway"),
			chromedp.Click(chromedp.CSS("#f-submit")),
		)
		// The results of the page before the search are visible too: wait
		// for the new page.
		e.waitFor(`location.search.includes('service=api-gateway') && document.readyState === 'complete'`)
		e.do(chromedp.WaitVisible(chromedp.CSS("#trace-results")))
		if loc := e.location(); !strings.Contains(loc, "service=api-gateway") {
			t.Errorf("the search is not in the URL: %s", loc)
		}
		rows := eval[int](e, `document.querySelectorAll('#trace-results a.trace-link').length`)
		if rows == 0 {
			t.Fatal("no trace found for service api-gateway")
		}
		// The URL alone reproduces the search.
		e.do(chromedp.Navigate(e.location()), chromedp.WaitVisible(chromedp.CSS("#trace-results")))
		if again := eval[int](e, `document.querySelectorAll('#trace-results a.trace-link').length`); again != rows {
			t.Errorf("reloading the URL finds %d traces, the form found %d", again, rows)
		}
		e.do(chromedp.Click(chromedp.CSS("#f-errors")), chromedp.Click(chromedp.CSS("#f-submit")))
		e.waitFor(`location.search.includes('errors=true') && document.getElementById('result-count') !== null`)
		if loc := e.location(); strings.Contains(loc, "operation=") || strings.Contains(loc, "minDuration=") {
			t.Errorf("empty filters clutter the shared URL: %s", loc)
		}
	})

	t.Run("Waterfall", func(t *testing.T) {
		e.t = t
		e.do(chromedp.Navigate(e.base+"/p/default/traces?service=api-gateway&operation=GET+%2Fapi%2Fusers"), chromedp.WaitVisible(chromedp.CSS("#trace-results")))
		e.do(chromedp.Click(chromedp.CSS("#trace-results a.trace-link")), chromedp.WaitVisible(chromedp.CSS(`#waterfall[data-ready="true"]`)))
		n := eval[int](e, `document.querySelectorAll('.wf-row:not(.hidden)').length`)
		if n < 3 {
			t.Fatalf("%d waterfall rows visible, want several", n)
		}
		e.showSpan(1)
		traceID = strings.TrimPrefix(e.location()[strings.LastIndex(e.location(), "/")+1:], "")
		spanID = eval[string](e, `JSON.parse(document.getElementById('trace-data').textContent).spans[1].id`)
	})

	t.Run("BreakpointForm", func(t *testing.T) {
		e.t = t
		e.do(
			chromedp.Navigate(e.base+"/p/default/codemon/new?service=checkout"),
			chromedp.WaitVisible(chromedp.CSS("#bp-form")),
		)
		if got := eval[string](e, `document.getElementById('bp-depth').value + '/' + document.getElementById('bp-rate').value + '/' + document.getElementById('bp-expires').value`); got != "3/10/24h" {
			t.Errorf("defaults depth/rate/expiry = %s, want 3/10/24h", got)
		}
		eval[bool](e, `(() => { const s = document.getElementById('bp-cp'); s.value = 'payment-failed'; s.dispatchEvent(new Event('change')); return true })()`)
		if f := eval[string](e, `document.getElementById('bp-file').value + ':' + document.getElementById('bp-line').value`); f != "/app/handlers/payment.go:42" {
			t.Errorf("choosing the capture point filled %q", f)
		}
		e.do(
			chromedp.Click(chromedp.CSS(`input[name=type][value=conditional]`)),
			chromedp.WaitVisible(chromedp.CSS("#bp-condition")),
			chromedp.SendKeys(chromedp.CSS("#bp-condition"), "order.total >"),
			chromedp.Click(chromedp.CSS("#bp-activate")),
			chromedp.WaitVisible(chromedp.CSS("#err-condition")),
		)
		if v := eval[string](e, `document.getElementById('bp-condition').value`); v != "order.total >" {
			t.Errorf("the form lost what was typed: %q", v)
		}
		e.screenshot("breakpoint-form")
		e.do(
			chromedp.SetValue(chromedp.CSS("#bp-condition"), "order.total > 10000"),
			chromedp.Click(chromedp.CSS("#bp-activate")),
			chromedp.WaitVisible(chromedp.CSS("#breakpoint-list tr.created")),
		)
		bpID = eval[string](e, `document.querySelector('#breakpoint-list tr.created').dataset.bp`)
		if !strings.HasPrefix(bpID, "bp_") {
			t.Fatalf("created breakpoint id = %q", bpID)
		}
	})

	t.Run("LiveSnapshots", func(t *testing.T) {
		e.t = t
		e.do(chromedp.Navigate(e.base+"/p/default/snapshots"), chromedp.WaitVisible(chromedp.CSS("#snapshot-list")))
		eval[bool](e, `(window.__sameDocument = true)`)
		e.snapshot(bpID, traceID, spanID, map[string]any{"order": map[string]any{"id": "o-1", "total": 12000, "items": []any{"book", "pen"}}, "user": "u-42", "retry": false})
		e.waitFor(`document.querySelectorAll('#snapshot-list tbody tr').length === 1`)
		e.snapshot(bpID, traceID, spanID, map[string]any{"order": map[string]any{"id": "o-2", "total": 15000, "items": []any{"book"}}, "coupon": "WINTER", "retry": false})
		e.waitFor(`document.querySelectorAll('#snapshot-list tbody tr').length === 2`)
		if !eval[bool](e, `window.__sameDocument === true`) {
			t.Error("the page reloaded to show the snapshots")
		}
	})

	t.Run("CompareSnapshots", func(t *testing.T) {
		e.t = t
		e.do(
			chromedp.Click(chromedp.CSS("#snapshot-list tbody tr:nth-child(1) input[type=checkbox]")),
			chromedp.Click(chromedp.CSS("#snapshot-list tbody tr:nth-child(2) input[type=checkbox]")),
			chromedp.WaitEnabled(chromedp.CSS("#compare-button")),
			chromedp.Click(chromedp.CSS("#compare-button")),
			chromedp.WaitVisible(chromedp.CSS("#diff-summary")),
		)
		rows := eval[map[string]string](e, `Object.fromEntries([...document.querySelectorAll('#diff tbody tr')].map(r => [r.cells[0].querySelector('code').textContent, r.className]))`)
		want := map[string]string{"order.id": "changed", "order.total": "changed", "order.items[1]": "removed", "user": "removed", "coupon": "added", "retry": "", "order.items[0]": ""}
		for path, mark := range want {
			if rows[path] != mark {
				t.Errorf("row %s marked %q, want %q (rows %v)", path, rows[path], mark, rows)
			}
		}
		e.screenshot("compare")
	})

	t.Run("SnapshotDetail", func(t *testing.T) {
		e.t = t
		e.do(chromedp.Navigate(e.base+"/p/default/snapshots"), chromedp.WaitVisible(chromedp.CSS("#snapshot-list a.snap-link")))
		e.do(chromedp.Click(chromedp.CSS("#snapshot-list a.snap-link")), chromedp.WaitVisible(chromedp.CSS("#variables")))
		if n := eval[int](e, `document.querySelectorAll('#variables details').length`); n < 2 {
			t.Errorf("%d collapsible variables, want the order and its items", n)
		}
		if got := eval[string](e, `document.querySelector('#call-stack .fn').textContent`); got != "main.handlePayment" {
			t.Errorf("call stack starts with %q", got)
		}
		href := eval[string](e, `document.getElementById('snapshot-trace').getAttribute('href')`)
		if !strings.Contains(href, "/traces/"+traceID) {
			t.Errorf("trace link = %q", href)
		}
		e.screenshot("snapshot")
		// The trace marks the span that captured it.
		e.do(chromedp.Click(chromedp.CSS("#snapshot-trace")), chromedp.WaitVisible(chromedp.CSS(`#waterfall[data-ready="true"]`)), chromedp.WaitVisible(chromedp.CSS("a.snapshot-link")))
		if n := eval[int](e, `[...document.querySelectorAll('.wf-row:not(.hidden) .wf-mark.snap')].filter(m => !m.classList.contains('hidden')).length`); n != 1 {
			t.Errorf("%d rows carry a snapshot marker, want 1", n)
		}
		e.screenshot("waterfall")
	})

	t.Run("KillSwitch", func(t *testing.T) {
		e.t = t
		e.do(chromedp.Navigate(e.base+"/p/default/codemon?service=checkout"), chromedp.WaitVisible(chromedp.CSS("#ks-toggle")))
		if n := eval[int](e, `document.querySelectorAll('#instances tbody tr').length`); n != 1 {
			t.Errorf("%d connected SDKs listed, want 1", n)
		}
		eval[bool](e, `(window.confirm = () => true, true)`)
		e.do(chromedp.Click(chromedp.CSS("#ks-toggle")), chromedp.WaitVisible(chromedp.CSS("#ks-state.off")))
		var cfg struct{ KillSwitch bool }
		_ = json.Unmarshal(e.get("/v1/codemon/breakpoints?service=checkout", e.ingest), &cfg)
		if !cfg.KillSwitch {
			t.Error("the SDKs' breakpoint set does not carry the kill switch")
		}
		e.do(chromedp.Click(chromedp.CSS("#ks-toggle")), chromedp.WaitVisible(chromedp.CSS("#ks-state.on")))
	})

	t.Run("APIKeys", func(t *testing.T) {
		e.t = t
		e.do(
			chromedp.Navigate(e.base+"/p/default/settings"),
			chromedp.WaitVisible(chromedp.CSS("#key-form")),
			chromedp.SetValue(chromedp.CSS("#key-name"), "ci pipeline"),
			chromedp.SetValue(chromedp.CSS("#key-scope"), "admin"),
			chromedp.Click(chromedp.CSS("#key-create")),
			chromedp.WaitVisible(chromedp.CSS("#secret-value")),
		)
		secret := eval[string](e, `document.getElementById('secret-value').textContent`)
		if !strings.HasPrefix(secret, "tk_") {
			t.Fatalf("secret shown = %q", secret)
		}
		e.get("/api/v1/services", secret)
		id := eval[string](e, `[...document.querySelectorAll('#key-list tr[data-key]')].find(r => r.cells[0].textContent === 'ci pipeline').dataset.key`)
		eval[bool](e, `(window.confirm = () => true, true)`)
		e.do(chromedp.Click(chromedp.CSS(`#key-list tr[data-key="`+id+`"] button`)), chromedp.WaitVisible(chromedp.CSS(`#key-list tr.revoked[data-key="`+id+`"]`)))
		if status := e.status("/api/v1/services", secret); status != http.StatusUnauthorized {
			t.Errorf("revoked key answered %d, want 401", status)
		}
	})

	t.Run("Services", func(t *testing.T) {
		e.t = t
		e.do(chromedp.Navigate(e.base+"/p/default/services?range=1h"), chromedp.WaitVisible(chromedp.CSS("#service-stats")))
		if n := eval[int](e, `document.querySelectorAll('#service-stats tr.svc-row').length`); n < 4 {
			t.Errorf("%d services listed, want the demo's", n)
		}
		e.screenshot("services")
		e.do(chromedp.Navigate(e.base+"/p/default/traces?range=1h"), chromedp.WaitVisible(chromedp.CSS("#trace-results")))
		e.screenshot("traces")
	})

	t.Run("SignOut", func(t *testing.T) {
		e.t = t
		e.do(chromedp.Click(chromedp.CSS("form.logout button")), chromedp.WaitVisible(chromedp.CSS("#email")))
		e.do(chromedp.Navigate(e.base + "/p/default/traces"))
		if !strings.Contains(e.location(), "/login") {
			t.Errorf("after sign-out the traces page is at %s", e.location())
		}
	})
}

func (e *env) get(path, key string) []byte {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.base+path, nil)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return b
}

func (e *env) status(path, key string) int {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.base+path, nil)
	req.Header.Set("X-API-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
