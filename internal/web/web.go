// Package web is TraceKit's dashboard: server-rendered HTML pages on the
// server's HTTP listener, with their templates, styles and a little
// JavaScript embedded in the binary. Pages: sign-in, trace search, the
// unified waterfall of one trace, per-service and per-operation statistics,
// code monitoring (kill switch, instances, capture points, breakpoints,
// snapshots, compare, logpoint lines, live updates by polling) and settings
// (retention, API keys).
//
// It owns dashboard users (accounts with bcrypt password hashes and project
// memberships), sessions (cookie tokens stored hashed), CSRF tokens and
// sign-in rate limiting. It does not own storage (package store), the API
// key format (auth) or the rules of code monitoring (codemon): it calls
// them in-process. Every page is scoped to one project, taken from the URL
// and checked against the user's memberships on every request.
package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/internal/codemon"
	"github.com/tracekit-oss/tracekit/internal/store"
)

//go:embed templates static
var assets embed.FS

// Store is what the dashboard reads and writes.
type Store interface {
	store.TraceReader
	store.ProjectStore
	store.KeyStore
	store.BreakpointStore
	store.SnapshotStore
	store.UserStore
	store.SessionStore
	store.SettingsStore
}

// Codemon is the code-monitoring service the dashboard drives in-process.
type Codemon interface {
	CreateBreakpoint(ctx context.Context, project string, in codemon.BreakpointInput) (store.Breakpoint, error)
	UpdateBreakpoint(ctx context.Context, project, id string, in codemon.BreakpointInput) (store.Breakpoint, error)
	DeleteBreakpoint(ctx context.Context, project, id string) error
	SetKillSwitch(ctx context.Context, project, service string, enabled bool) (store.KillSwitch, error)
	SnapshotsOfTrace(ctx context.Context, project, traceID string, start, end time.Time) ([]store.Snapshot, error)
	Instances(project, service string) []codemon.Instance
	KeyRevoked(project, keyID string)
}

// Config is what New needs.
type Config struct {
	Store   Store
	Codemon Codemon
	Log     *slog.Logger
	// TraceRetention and SnapshotRetention are the server's flags: the
	// retention in force while the settings page has not changed it.
	TraceRetention    time.Duration
	SnapshotRetention time.Duration
	// SessionTTL is how long a sign-in lasts; zero means 7 days.
	SessionTTL time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// TrustedProxies are the reverse proxies in front of the dashboard
	// (see ParseTrustedProxies). A request whose peer address is in one of
	// these prefixes may say, in X-Forwarded-Proto: https, that the browser
	// used HTTPS (its cookies are then Secure), and, in X-Forwarded-For,
	// which address the browser has (the right-most entry not itself in a
	// trusted prefix; the sign-in limiter counts per address). Headers from
	// any other peer are never believed. Empty: no proxy is trusted.
	TrustedProxies []netip.Prefix

	_ struct{}
}

// Dashboard serves the dashboard's pages.
type Dashboard struct {
	st      Store
	cm      Codemon
	log     *slog.Logger
	now     func() time.Time
	ttl     time.Duration
	defRet  store.Settings
	pages   map[string]*template.Template
	static  http.Handler
	version string
	limits  *signInLimits
	proxies trustedProxies
	// checkPassword compares a password with its bcrypt hash; tests
	// replace it to count and hold the comparisons.
	checkPassword func(hash []byte, password string) error
}

// New parses the embedded templates and returns the dashboard.
func New(cfg Config) (*Dashboard, error) {
	if cfg.Store == nil || cfg.Codemon == nil || cfg.Log == nil {
		return nil, errors.New("web: Store, Codemon and Log are required")
	}
	d := &Dashboard{
		st: cfg.Store, cm: cfg.Codemon, log: cfg.Log, now: cfg.Now, ttl: cfg.SessionTTL,
		defRet: store.Settings{TraceRetention: cfg.TraceRetention, SnapshotRetention: cfg.SnapshotRetention},
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.ttl <= 0 {
		d.ttl = 7 * 24 * time.Hour
	}
	d.limits = newSignInLimits(d.now)
	d.checkPassword = func(hash []byte, password string) error { return bcrypt.CompareHashAndPassword(hash, []byte(password)) }
	var err error
	if d.proxies, err = newTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, err
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	d.version, err = assetsVersion(static)
	if err != nil {
		return nil, err
	}
	d.static = http.StripPrefix("/static/", http.FileServerFS(static))
	if d.pages, err = parsePages(d.funcs()); err != nil {
		return nil, err
	}
	return d, nil
}

// assetsVersion hashes the static files so that their URLs change with
// their content and browsers may cache them.
func assetsVersion(static fs.FS) (string, error) {
	h := sha256.New()
	err := fs.WalkDir(static, ".", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil)[:6]), err
}

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{
	"login", "error", "traces", "trace", "services", "codemon", "breakpoint", "snapshots", "snapshot", "compare", "logs", "settings",
	"servicemap",
	"tracecompare",
}

func parsePages(funcs template.FuncMap) (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// Register adds the dashboard's routes to mux. It takes "/" as a fallback,
// so register it after the API.
func (d *Dashboard) Register(mux api.Router) {
	h := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, secure(f)) }
	h("GET /static/", d.serveStatic)
	h("GET /login", d.loginPage)
	h("POST /login", d.login)
	h("POST /logout", d.signedIn(d.logout))
	h("GET /{$}", d.signedIn(d.home))
	p := func(pattern string, f http.HandlerFunc) {
		method, path, _ := strings.Cut(pattern, " ")
		mux.Handle(method+" /p/{project}"+path, secure(d.signedIn(d.inProject(f))))
	}
	p("GET /traces", d.tracesPage)
	p("GET /traces/{traceID}", d.tracePage)
	p("GET /traces/compare", d.traceComparePage)
	p("GET /services", d.servicesPage)
	p("GET /servicemap", d.serviceMapPage)
	p("GET /codemon", d.codemonPage)
	p("GET /codemon/new", d.breakpointForm)
	p("POST /codemon/breakpoints", d.createBreakpoint)
	p("POST /codemon/breakpoints/{id}/{action}", d.breakpointAction)
	p("POST /codemon/killswitch", d.killSwitch)
	p("GET /snapshots", d.snapshotsPage)
	p("GET /snapshots/{id}", d.snapshotPage)
	p("GET /compare", d.comparePage)
	p("GET /logs", d.logsPage)
	p("GET /live/snapshots", d.liveSnapshots)
	p("GET /live/logs", d.liveLogs)
	p("GET /settings", d.settingsPage)
	p("POST /settings/retention", d.saveRetention)
	p("POST /settings/keys", d.createKey)
	p("POST /settings/keys/{id}/revoke", d.revokeKey)
	mux.Handle("/", secure(func(w http.ResponseWriter, r *http.Request) {
		d.renderError(w, r, http.StatusNotFound, "No such page: "+r.URL.Path)
	}))
}

// contentSecurityPolicy forbids inline scripts and styles, plugins, framing
// and foreign origins: data from spans and snapshots can at worst be shown.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; " +
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// secure sets the security headers every dashboard response carries.
func secure(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		next(w, r)
	}
}

func (d *Dashboard) serveStatic(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("v") == d.version {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	d.static.ServeHTTP(w, r)
}

// visit is what the middleware learned about a signed-in request.
type visit struct {
	user    store.User
	session store.Session
	project string
	colors  map[string]string // service colour classes, loaded on first use
}

type visitKey struct{}

func visitOf(r *http.Request) *visit {
	v, _ := r.Context().Value(visitKey{}).(*visit)
	return v
}

// inProject checks that the signed-in user is a member of the project in
// the URL; a project the user does not belong to looks like one that does
// not exist.
func (d *Dashboard) inProject(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := visitOf(r)
		p := r.PathValue("project")
		if !v.user.MemberOf(p) {
			d.renderError(w, r, http.StatusNotFound, fmt.Sprintf("No project %q among yours.", p))
			return
		}
		v.project = p
		d.setCookie(w, r, &http.Cookie{Name: projectCookie, Value: p, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 365 * 24 * 3600})
		next(w, r)
	}
}

const projectCookie = "tk_project"

func (d *Dashboard) home(w http.ResponseWriter, r *http.Request) {
	v := visitOf(r)
	if len(v.user.Projects) == 0 {
		d.renderError(w, r, http.StatusForbidden, "Your account belongs to no project yet: ask an administrator to add you to one (tracekit users create --project ...).")
		return
	}
	p := v.user.Projects[0]
	if c, err := r.Cookie(projectCookie); err == nil && v.user.MemberOf(c.Value) {
		p = c.Value
	}
	http.Redirect(w, r, "/p/"+url.PathEscape(p)+"/traces", http.StatusSeeOther)
}

// view is what every page template receives.
type view struct {
	Title    string
	Nav      string
	User     *store.User
	Project  string
	Projects []string
	CSRF     string
	Version  string
	Data     any
	colors   map[string]string
}

// Color is the colour class of a service's chips and bars.
func (v view) Color(service string) string {
	if c, ok := v.colors[service]; ok {
		return c
	}
	return serviceClass(service)
}

// ColorsJSON is the colour classes for scripts that draw rows themselves.
func (v view) ColorsJSON() string {
	b, _ := json.Marshal(v.colors)
	return string(b)
}

// colors gives each service of the project its own colour, by its rank
// among the project's services, so that a service keeps its colour on
// every page and services of one trace rarely share one.
func (d *Dashboard) colors(r *http.Request) map[string]string {
	v := visitOf(r)
	if v == nil || v.project == "" {
		return nil
	}
	if v.colors == nil {
		v.colors = map[string]string{}
		svcs, err := d.st.Services(r.Context(), v.project)
		if err != nil {
			d.log.Warn("list services for colours", "err", err)
		}
		for i, s := range svcs {
			v.colors[s] = "svc" + strconv.Itoa(i%paletteSize)
		}
	}
	return v.colors
}

func (d *Dashboard) render(w http.ResponseWriter, r *http.Request, status int, page, title, nav string, data any) {
	vw := view{Title: title, Nav: nav, Version: d.version, Data: data}
	if v := visitOf(r); v != nil {
		vw.User, vw.Project, vw.Projects, vw.CSRF = &v.user, v.project, v.user.Projects, v.session.CSRF
		vw.colors = d.colors(r)
	}
	var buf bytes.Buffer
	if err := d.pages[page].Execute(&buf, vw); err != nil {
		d.log.Error("render page", "page", page, "err", err)
		http.Error(w, "internal error while rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (d *Dashboard) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	d.render(w, r, status, "error", http.StatusText(status), "", msg)
}

// fail renders a store or service error for what the page was doing.
func (d *Dashboard) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	switch {
	case errors.Is(err, store.ErrNotFound):
		d.renderError(w, r, http.StatusNotFound, what+": not found in this project.")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		d.renderError(w, r, http.StatusServiceUnavailable, what+": the request was cancelled or timed out.")
	default:
		d.log.Error(what, "err", err)
		d.renderError(w, r, http.StatusInternalServerError, what+": internal error (see the server log).")
	}
}

// projectPath is the path of a page of the visit's project.
func projectPath(r *http.Request, rest string) string {
	return "/p/" + url.PathEscape(visitOf(r).project) + rest
}
