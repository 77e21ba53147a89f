package web

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tracekit-oss/tracekit/internal/codemon"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"))
}

// harness is a dashboard over a real store, on a loopback test server, with
// a clock the test moves.
type harness struct {
	t   *testing.T
	st  *pebble.Store
	d   *Dashboard
	srv *httptest.Server
	mu  sync.Mutex
	now time.Time
	// check, when set, replaces the bcrypt comparison of sign-in.
	check func(hash []byte, password string) error
}

// newHarness starts a dashboard; configure, if given, changes its Config.
func newHarness(t *testing.T, configure ...func(*Config)) *harness {
	t.Helper()
	h := &harness{t: t, now: time.Now().UTC()}
	st, err := pebble.Open(t.TempDir(), pebble.Options{Now: h.clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h.st = st
	ctx := context.Background()
	for _, p := range []string{"default", "p1", "p2"} {
		if err := st.CreateProject(ctx, store.Project{ID: p, Name: p, CreatedAt: h.clock()}); err != nil {
			t.Fatal(err)
		}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cm := codemon.New(st, log, codemon.Options{Now: h.clock})
	t.Cleanup(cm.Close)
	cfg := Config{Store: st, Codemon: cm, Log: log, Now: h.clock, TraceRetention: 720 * time.Hour, SnapshotRetention: 720 * time.Hour}
	for _, f := range configure {
		f(&cfg)
	}
	h.d, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	bcryptCheck := h.d.checkPassword
	h.d.checkPassword = func(hash []byte, password string) error {
		h.mu.Lock()
		check := h.check
		h.mu.Unlock()
		if check != nil {
			return check(hash, password)
		}
		return bcryptCheck(hash, password)
	}
	mux := http.NewServeMux()
	h.d.Register(mux)
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

// setCheck replaces the bcrypt comparison of sign-in with check.
func (h *harness) setCheck(check func(hash []byte, password string) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.check = check
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

func (h *harness) user(email, password string, admin bool, projects ...string) store.User {
	h.t.Helper()
	u, err := CreateUser(context.Background(), h.st, email, password, projects, admin, h.clock())
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

// browser is a cookie-keeping client that does not follow redirects.
func (h *harness) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

func (h *harness) get(c *http.Client, path string) (*http.Response, string) {
	h.t.Helper()
	resp, err := c.Get(h.srv.URL + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (h *harness) post(c *http.Client, path string, form url.Values, header ...string) (*http.Response, string) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// token reads the CSRF token of the form on a page.
func (h *harness) token(c *http.Client, path string) string {
	h.t.Helper()
	_, body := h.get(c, path)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		h.t.Fatalf("no csrf field on %s", path)
	}
	return m[1]
}

func (h *harness) signIn(c *http.Client, email, password string) *http.Response {
	h.t.Helper()
	resp, _ := h.post(c, "/login", url.Values{"csrf": {h.token(c, "/login")}, "email": {email}, "password": {password}})
	return resp
}

func (h *harness) signedIn(email, password string) *http.Client {
	h.t.Helper()
	c := h.browser()
	if resp := h.signIn(c, email, password); resp.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("sign in as %s: %d", email, resp.StatusCode)
	}
	return c
}

func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t)
	for _, path := range []string{"/login", "/static/app.js", "/static/waterfall.js", "/no/such/page", "/p/default/traces"} {
		resp, _ := h.get(h.browser(), path)
		hd := resp.Header
		if hd.Get("Content-Security-Policy") != "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'" ||
			hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Referrer-Policy") == "" {
			t.Errorf("%s: headers %v", path, hd)
		}
	}
	resp, _ := h.get(h.browser(), "/static/app.js")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("app.js served as %q", ct)
	}
}

func TestSignIn(t *testing.T) {
	h := newHarness(t)
	h.user("alice@example.com", "correct horse", false, "p1")
	c := h.browser()
	for _, tc := range []struct{ email, password string }{{"alice@example.com", "wrong"}, {"nobody@example.com", "correct horse"}} {
		resp, body := h.post(c, "/login", url.Values{"csrf": {h.token(c, "/login")}, "email": {tc.email}, "password": {tc.password}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, errBadSignIn) {
			t.Errorf("%s/%s: %d, want 401 with %q", tc.email, tc.password, resp.StatusCode, errBadSignIn)
		}
	}
	// Without the sign-in form's own token (a cross-site form post).
	if resp, _ := h.post(h.browser(), "/login", url.Values{"email": {"alice@example.com"}, "password": {"correct horse"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in without the form token: %d, want 403", resp.StatusCode)
	}
	resp := h.signIn(c, "ALICE@example.com", "correct horse")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || cookie.Secure || cookie.Path != "/" || len(cookie.Value) < 43 {
		t.Fatalf("session cookie = %+v", cookie)
	}
	if _, err := h.st.Session(context.Background(), cookie.Value); err == nil {
		t.Error("the session is stored under its token: a copy of the store would sign people in")
	}
	if se, err := h.st.Session(context.Background(), tokenHash(cookie.Value)); err != nil || !se.ExpiresAt.After(h.clock()) || len(se.CSRF) < 43 {
		t.Errorf("stored session = %+v, %v", se, err)
	}
	if resp, _ := h.get(c, "/"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/p/p1/traces" {
		t.Errorf("home: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Over TLS the cookie is Secure.
	fresh := h.browser()
	tok := h.token(fresh, "/login")
	req := httptest.NewRequest("POST", "https://tracekit.example/login", strings.NewReader(url.Values{"csrf": {tok}, "email": {"alice@example.com"}, "password": {"correct horse"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: loginCookie, Value: tok})
	req.TLS = &tls.ConnectionState{}
	rec := httptest.NewRecorder()
	h.d.login(rec, req)
	if ck := rec.Result().Cookies(); len(ck) < 2 || !ck[1].Secure || ck[1].Name != sessionCookie {
		t.Errorf("cookies over TLS: %+v", ck)
	}
	// Redirects after sign-in stay on this site.
	for next, want := range map[string]string{"/p/p1/services": "/p/p1/services", "//evil.example/": "/", "https://evil.example/": "/", "/\\evil": "/"} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

func TestSignInRateLimit(t *testing.T) {
	h := newHarness(t)
	h.user("alice@example.com", "correct horse", false, "p1")
	h.user("bob@example.com", "battery staple", false, "p1")
	c := h.browser()
	for i := 0; i < 10; i++ {
		if resp := h.signIn(c, "alice@example.com", "guess"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, resp.StatusCode)
		}
	}
	if resp := h.signIn(c, "alice@example.com", "correct horse"); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("11th attempt within a minute: %d, want 429 with Retry-After", resp.StatusCode)
	}
	if resp := h.signIn(h.browser(), "bob@example.com", "battery staple"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("another user from the same address: %d", resp.StatusCode)
	}
	h.advance(time.Minute)
	if resp := h.signIn(c, "alice@example.com", "correct horse"); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a minute later: %d", resp.StatusCode)
	}
}

func TestCSRF(t *testing.T) {
	h := newHarness(t)
	h.user("alice@example.com", "correct horse", false, "p1")
	c := h.signedIn("alice@example.com", "correct horse")
	tok := h.token(c, "/p/p1/codemon?service=checkout")
	form := url.Values{"service": {"checkout"}, "enabled": {"true"}}
	f := func(form url.Values, want int, header ...string) {
		t.Helper()
		if resp, _ := h.post(c, "/p/p1/codemon/killswitch", form, header...); resp.StatusCode != want {
			t.Errorf("kill switch with %v %v: %d, want %d", form, header, resp.StatusCode, want)
		}
	}
	f(form, http.StatusForbidden)
	f(url.Values{"service": {"checkout"}, "enabled": {"true"}, "csrf": {"forged"}}, http.StatusForbidden)
	f(url.Values{"service": {"checkout"}, "enabled": {"true"}, "csrf": {tok}}, http.StatusForbidden, "Origin", "https://evil.example")
	if ks, _ := h.st.KillSwitch(context.Background(), "p1", "checkout"); ks.Enabled {
		t.Fatal("a request without a valid token flipped the kill switch")
	}
	f(url.Values{"service": {"checkout"}, "enabled": {"true"}, "csrf": {tok}}, http.StatusSeeOther)
	f(form, http.StatusSeeOther, csrfHeader, tok)
	if ks, _ := h.st.KillSwitch(context.Background(), "p1", "checkout"); !ks.Enabled {
		t.Error("kill switch not set")
	}
	// Another session's token does not work in this one.
	other := h.signedIn("alice@example.com", "correct horse")
	f(url.Values{"service": {"checkout"}, "enabled": {"false"}, "csrf": {h.token(other, "/p/p1/settings")}}, http.StatusForbidden)
	// Sign-out needs the token too, then ends the session.
	if resp, _ := h.post(c, "/logout", url.Values{}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("logout without token: %d", resp.StatusCode)
	}
	if resp, _ := h.post(c, "/logout", url.Values{"csrf": {tok}}); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("logout: %d", resp.StatusCode)
	}
	if resp, _ := h.get(c, "/p/p1/traces"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("after logout: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestSessionExpiry(t *testing.T) {
	h := newHarness(t)
	h.user("alice@example.com", "correct horse", false, "p1")
	c := h.signedIn("alice@example.com", "correct horse")
	if resp, _ := h.get(c, "/p/p1/traces"); resp.StatusCode != http.StatusOK {
		t.Fatalf("signed in: %d", resp.StatusCode)
	}
	h.advance(7*24*time.Hour + time.Second)
	if resp, _ := h.get(c, "/p/p1/traces?service=x"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next="+url.QueryEscape("/p/p1/traces?service=x") {
		t.Errorf("expired session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := h.get(c, "/p/p1/live/snapshots"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("expired session on a live endpoint: %d, want 401", resp.StatusCode)
	}
}

func span(project string, trace byte, service, name string, at time.Time) telemetry.Span {
	res := &telemetry.Resource{ServiceName: service, Attributes: []telemetry.Attribute{{Key: "service.name", Value: telemetry.StringValue(service)}}}
	return telemetry.Span{TraceID: telemetry.TraceID{trace, 1}, SpanID: telemetry.SpanID{trace, 1}, Name: name, Kind: telemetry.KindServer,
		StartUnixNano: at.UnixNano(), EndUnixNano: at.Add(time.Millisecond).UnixNano(), Resource: res}
}

// TestMembership: each user sees only the projects they belong to, and
// nothing of another project is reachable by changing a URL.
func TestMembership(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	h.user("alice@example.com", "correct horse", false, "p1")
	h.user("bob@example.com", "battery staple", false, "p2")
	h.user("carol@example.com", "three projects", false, "p1", "p2")
	at := h.clock().Add(-time.Minute)
	if err := h.st.WriteSpans(ctx, "p1", []telemetry.Span{span("p1", 1, "alpha-svc", "GET /alpha", at)}); err != nil {
		t.Fatal(err)
	}
	if err := h.st.WriteSpans(ctx, "p2", []telemetry.Span{span("p2", 2, "beta-svc", "GET /beta", at)}); err != nil {
		t.Fatal(err)
	}
	bobTrace := telemetry.TraceID{2, 1}.String()
	b, err := codemon.New(h.st, slog.New(slog.NewTextHandler(io.Discard, nil)), codemon.Options{Now: h.clock}).CreateBreakpoint(ctx, "p2", codemon.BreakpointInput{Service: ptr("beta-svc"), CapturePoint: ptr("beta-point")})
	if err != nil {
		t.Fatal(err)
	}
	snaps := []store.Snapshot{{BreakpointID: b.ID, Service: "beta-svc", Time: at, Variables: json.RawMessage(`{"secret":"bob's"}`)}}
	if err := h.st.WriteSnapshots(ctx, "p2", snaps); err != nil {
		t.Fatal(err)
	}
	alice := h.signedIn("alice@example.com", "correct horse")
	for _, path := range []string{"/p/p2/traces", "/p/p2/traces/" + bobTrace, "/p/p2/snapshots/" + snaps[0].ID, "/p/p2/live/snapshots", "/p/p2/settings", "/p/nope/traces"} {
		if resp, body := h.get(alice, path); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "beta") {
			t.Errorf("alice GET %s: %d (leaks beta: %t)", path, resp.StatusCode, strings.Contains(body, "beta"))
		}
	}
	tok := h.token(alice, "/p/p1/settings")
	if resp, _ := h.post(alice, "/p/p2/codemon/killswitch", url.Values{"csrf": {tok}, "service": {"beta-svc"}, "enabled": {"true"}}); resp.StatusCode != http.StatusNotFound {
		t.Errorf("alice flips p2's kill switch: %d", resp.StatusCode)
	}
	// Within her own project, p2's IDs are simply not there.
	for _, path := range []string{"/p/p1/traces/" + bobTrace, "/p/p1/snapshots/" + snaps[0].ID, "/p/p1/compare?a=" + snaps[0].ID + "&b=" + snaps[0].ID} {
		if resp, body := h.get(alice, path); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "bob's") {
			t.Errorf("alice GET %s: %d", path, resp.StatusCode)
		}
	}
	if _, body := h.get(alice, "/p/p1/traces"); !strings.Contains(body, "alpha-svc") || strings.Contains(body, "beta-svc") || strings.Contains(body, "/p/p2/") {
		t.Error("alice's trace page shows another project or misses her own")
	}
	bob := h.signedIn("bob@example.com", "battery staple")
	if resp, body := h.get(bob, "/p/p2/traces/"+bobTrace); resp.StatusCode != http.StatusOK || !strings.Contains(body, "GET /beta") {
		t.Errorf("bob reads his trace: %d", resp.StatusCode)
	}
	if _, body := h.get(bob, "/p/p2/live/snapshots"); !strings.Contains(body, snaps[0].ID) {
		t.Errorf("bob's live snapshots miss his snapshot: %s", body)
	}
	carol := h.signedIn("carol@example.com", "three projects")
	if _, body := h.get(carol, "/p/p2/traces"); !strings.Contains(body, `class="switcher"`) || !strings.Contains(body, `href="/p/p1/traces"`) {
		t.Error("a member of two projects gets no project switcher")
	}
	if _, body := h.get(alice, "/p/p1/traces"); strings.Contains(body, `class="switcher"`) {
		t.Error("a member of one project gets a switcher")
	}
}

func ptr[T any](v T) *T { return &v }
