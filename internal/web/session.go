package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/store"
)

const (
	sessionCookie = "tk_session"
	loginCookie   = "tk_login" // double-submit CSRF token of the sign-in form
	csrfField     = "csrf"
	csrfHeader    = "X-CSRF-Token"
)

// randomToken returns 256 random bits, URL-safe.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // the OS has no entropy left: nothing is safe
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// signedIn loads the session of the request's cookie, refuses expired or
// unknown ones (pages redirect to the sign-in page, JSON endpoints answer
// 401), and checks the CSRF token of every state-changing request.
func (d *Dashboard) signedIn(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := d.session(r)
		if err != nil {
			if !errors.Is(err, store.ErrNotFound) {
				d.log.Error("read session", "err", err)
			}
			if strings.Contains(r.URL.Path, "/live/") || r.Method != http.MethodGet {
				http.Error(w, "sign in first", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			token := r.Header.Get(csrfHeader)
			if token == "" {
				token = r.PostFormValue(csrfField)
			}
			if !sameToken(token, v.session.CSRF) || !sameOrigin(r) {
				d.renderError(w, r, http.StatusForbidden, "This form has expired or did not come from this dashboard: reload the page and try again.")
				return
			}
		}
		next(w, r.WithContext(context.WithValue(r.Context(), visitKey{}, v)))
	}
}

// sameOrigin rejects requests whose Origin header names another site; the
// CSRF token is the main defence, this one costs nothing.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return o == ""
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func (d *Dashboard) session(r *http.Request) (*visit, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, store.ErrNotFound
	}
	se, err := d.st.Session(r.Context(), tokenHash(c.Value))
	if err != nil {
		return nil, err
	}
	if !d.now().Before(se.ExpiresAt) {
		return nil, store.ErrNotFound
	}
	u, err := d.st.User(r.Context(), se.UserID)
	if err != nil {
		return nil, err
	}
	return &visit{user: u, session: se}, nil
}

type loginView struct {
	Email, Next, Error, Token string
}

func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	if v, err := d.session(r); err == nil && v != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	d.renderLogin(w, r, http.StatusOK, loginView{Next: r.URL.Query().Get("next")})
}

func (d *Dashboard) renderLogin(w http.ResponseWriter, r *http.Request, status int, lv loginView) {
	lv.Token = randomToken()
	d.setCookie(w, r, &http.Cookie{Name: loginCookie, Value: lv.Token, Path: "/login", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	lv.Next = safeNext(lv.Next)
	d.render(w, r, status, "login", "Sign in", "", lv)
}

// safeNext returns next, the page to show after signing in, if a browser
// would resolve it to a page of this site, and "/" otherwise.
//
// A browser normalises a URL before resolving it (WHATWG URL parsing): it
// strips leading and trailing control characters and spaces, removes tabs
// and newlines anywhere, and reads a backslash as "/" in http(s) URLs. So
// "/\t/evil" and "/\\evil" (Go notation) both mean "//evil", another host.
// Rather than mimic those rules, safeNext refuses every control character
// and backslash, then requires a path that starts with one "/" and names
// no scheme, host or user. A browser does not decode "%2F" or "%09" in a
// path, but a proxy in between might: the path is refused if a decoding of
// it would be.
func safeNext(next string) string {
	if !sameSitePath(next) {
		return "/"
	}
	return next
}

func sameSitePath(next string) bool {
	if !localPath(next) || !utf8.ValidString(next) {
		return false
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Opaque != "" || u.User != nil || u.Host != "" {
		return false
	}
	path, _, _ := strings.Cut(next, "?")
	path, _, _ = strings.Cut(path, "#")
	for {
		dec, err := url.PathUnescape(path)
		if err != nil || !localPath(dec) {
			return false
		}
		if dec == path {
			return true // each round shortens the path, so this ends
		}
		path = dec
	}
}

// localPath says whether s starts with a single "/" and holds no control
// character or backslash.
func localPath(s string) bool {
	if len(s) == 0 || s[0] != '/' || len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || r == '\\' }) < 0
}

// errBadSignIn is what a user sees for an unknown user or a wrong password:
// the same message for both, so that it tells nobody which users exist.
const errBadSignIn = "Wrong email or password."

func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	email := strings.TrimSpace(r.PostFormValue("email"))
	password := r.PostFormValue("password")
	lv := loginView{Email: email, Next: r.PostFormValue("next")}
	c, err := r.Cookie(loginCookie)
	if err != nil || !sameToken(r.PostFormValue(csrfField), c.Value) || !sameOrigin(r) {
		lv.Error = "The sign-in form expired: try again."
		d.renderLogin(w, r, http.StatusForbidden, lv)
		return
	}
	// The attempt is counted before its password is checked, so that
	// guesses sent at once cannot all pass before the first one fails.
	attempt, wait, ok := d.limits.reserve(email, d.clientAddr(r))
	if !ok {
		secs := int((wait + time.Second - 1) / time.Second)
		lv.Error = fmt.Sprintf("Too many failed sign-ins: wait %d seconds and try again.", secs)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		d.renderLogin(w, r, http.StatusTooManyRequests, lv)
		return
	}
	u, err := d.st.UserByEmail(r.Context(), email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		attempt.abandon()
		d.fail(w, r, "sign in", err)
		return
	}
	hash := []byte(u.PasswordHash)
	if err != nil {
		hash = dummyHash // spend the same time as for a real user
	}
	if d.checkPassword(hash, password) != nil || err != nil {
		lv.Error = errBadSignIn // the attempt stays counted
		d.renderLogin(w, r, http.StatusUnauthorized, lv)
		return
	}
	token := randomToken()
	now := d.now().UTC()
	se := store.Session{Hash: tokenHash(token), UserID: u.ID, CSRF: randomToken(), CreatedAt: now, ExpiresAt: now.Add(d.ttl)}
	if err := d.st.CreateSession(r.Context(), se); err != nil {
		attempt.abandon()
		d.fail(w, r, "sign in", err)
		return
	}
	attempt.succeeded()
	d.setCookie(w, r, &http.Cookie{Name: loginCookie, Value: "", Path: "/login", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	d.setCookie(w, r, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Expires: se.ExpiresAt,
	})
	http.Redirect(w, r, safeNext(lv.Next), http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) {
	if err := d.st.DeleteSession(r.Context(), visitOf(r).session.Hash); err != nil {
		d.fail(w, r, "sign out", err)
		return
	}
	d.setCookie(w, r, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// dummyHash is compared against when the user does not exist.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("tracekit dummy password"), bcrypt.DefaultCost)

// MinPasswordLength is the shortest password CreateUser accepts.
const MinPasswordLength = 8

// UserStore is what user management needs.
type UserStore interface {
	store.UserStore
	Project(ctx context.Context, id string) (store.Project, error)
}

// CreateUser creates a dashboard user with a bcrypt hash of password, a
// member of projects (which must exist).
func CreateUser(ctx context.Context, st UserStore, email, password string, projects []string, admin bool, now time.Time) (store.User, error) {
	email = strings.TrimSpace(email)
	if email == "" || len(email) > 254 || strings.ContainsAny(email, " \t\r\n") {
		return store.User{}, fmt.Errorf("email %q: give an email address (or user name) without spaces, at most 254 characters", email)
	}
	if len(password) < MinPasswordLength || len(password) > 72 {
		return store.User{}, fmt.Errorf("password: use %d to 72 characters", MinPasswordLength)
	}
	for _, p := range projects {
		if _, err := st.Project(ctx, p); err != nil {
			return store.User{}, fmt.Errorf("project %q: %w", p, err)
		}
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return store.User{}, fmt.Errorf("hash password: %w", err)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	u := store.User{ID: "u_" + hex.EncodeToString(id[:]), Email: email, PasswordHash: string(hash), Admin: admin, Projects: projects, CreatedAt: now.UTC()}
	if err := st.CreateUser(ctx, u); err != nil {
		return store.User{}, err
	}
	return u, nil
}

// AdminUser is the sign-in name of the user created at first start.
const AdminUser = "admin"

// Bootstrap makes sure the dashboard can be signed in to. With a seed
// password (TRACEKIT_ADMIN_PASSWORD), the user "admin" exists with that
// password (created, or its password reset). Without one, on a store
// without users it creates "admin" with a random password, which it
// returns to be printed once. The admin user belongs to the default
// project and may change server-wide settings.
func Bootstrap(ctx context.Context, st UserStore, seedPassword string, now time.Time) (created string, err error) {
	if seedPassword != "" {
		u, err := st.UserByEmail(ctx, AdminUser)
		if errors.Is(err, store.ErrNotFound) {
			_, err = CreateUser(ctx, st, AdminUser, seedPassword, []string{auth.DefaultProject}, true, now)
			if errors.Is(err, store.ErrConflict) {
				return "", nil // another server sharing the store created it meanwhile
			}
			if err != nil {
				return "", fmt.Errorf("TRACEKIT_ADMIN_PASSWORD: %w", err)
			}
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("look up user admin: %w", err)
		}
		if bcrypt.CompareHashAndPassword([]byte(u.PasswordHash), []byte(seedPassword)) == nil {
			return "", nil
		}
		if len(seedPassword) < MinPasswordLength || len(seedPassword) > 72 {
			return "", fmt.Errorf("TRACEKIT_ADMIN_PASSWORD: use %d to 72 characters", MinPasswordLength)
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(seedPassword), bcrypt.DefaultCost)
		if err != nil {
			return "", err
		}
		u.PasswordHash = string(hash)
		return "", st.UpdateUser(ctx, u)
	}
	users, err := st.ListUsers(ctx)
	if err != nil {
		return "", err
	}
	if len(users) > 0 {
		return "", nil
	}
	var b [15]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	password := base64.RawURLEncoding.EncodeToString(b[:])
	_, err = CreateUser(ctx, st, AdminUser, password, []string{auth.DefaultProject}, true, now)
	if errors.Is(err, store.ErrConflict) {
		return "", nil // another server sharing the store created it meanwhile, and printed its password
	}
	if err != nil {
		return "", fmt.Errorf("create the first dashboard user: %w", err)
	}
	return password, nil
}
