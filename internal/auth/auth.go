// Package auth owns projects' API keys: minting them, storing only their
// hash, and turning the key a request carries into the project and scope it
// may act for. It does not own users or sessions (the dashboard does).
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
)

// Errors a caller maps to HTTP 401 and 403.
var (
	ErrMissingKey = errors.New("missing API key: send it in the X-API-Key header, as Authorization: Bearer <key>, or as the password of HTTP basic auth")
	ErrUnknownKey = errors.New("unknown API key")
	ErrRevokedKey = errors.New("API key has been revoked")
	ErrScope      = errors.New("API key scope does not allow this: an admin key is required")
)

// KeyLookup finds a key by the hash of its secret.
type KeyLookup interface {
	KeyByHash(ctx context.Context, hash string) (store.APIKey, error)
}

// Principal is who a request acts as.
type Principal struct {
	Project string
	Scope   store.Scope
	KeyID   string
}

// Can reports whether the principal's scope includes want.
func (p Principal) Can(want store.Scope) bool {
	return p.Scope == store.ScopeAdmin || p.Scope == want
}

// Hash returns the stored form of a key secret.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// KeyPrefix is how every key minted by TraceKit starts.
const KeyPrefix = "tk_"

// NewSecret mints a random key secret: tk_ and 40 hex digits (160 bits).
func NewSecret() (string, error) {
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("mint key: %w", err)
	}
	return KeyPrefix + hex.EncodeToString(b[:]), nil
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// KeyCreator stores keys.
type KeyCreator interface {
	CreateKey(ctx context.Context, k store.APIKey) error
}

// MaxKeyName is the longest name a key may have.
const MaxKeyName = 100

// ErrKeyName is the rule a key's name must follow, as users read it.
var ErrKeyName = fmt.Errorf("give the key a name of 1 to %d characters", MaxKeyName)

// KeyName returns name without surrounding spaces, or ErrKeyName when that
// is empty or too long: the one check of a key's name, for the API, the
// dashboard and the CLI.
func KeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > MaxKeyName {
		return name, ErrKeyName
	}
	return name, nil
}

// CreateKey mints and stores a key; the returned secret is shown once and
// never stored. A non-empty secret is used as given (for seeding a known key).
func CreateKey(ctx context.Context, ks KeyCreator, project, name string, scope store.Scope, secret string, now time.Time) (string, store.APIKey, error) {
	name, err := KeyName(name)
	if err != nil {
		return "", store.APIKey{}, fmt.Errorf("name %q: %w", name, err)
	}
	if !scope.Valid() {
		return "", store.APIKey{}, fmt.Errorf("scope %q: must be %q or %q", scope, store.ScopeIngest, store.ScopeAdmin)
	}
	if secret == "" {
		if secret, err = NewSecret(); err != nil {
			return "", store.APIKey{}, err
		}
	} else if len(secret) < 16 {
		return "", store.APIKey{}, fmt.Errorf("API key must be at least 16 characters")
	}
	k := store.APIKey{
		ID: newID(), Project: project, Name: name, Scope: scope,
		Hash: Hash(secret), Prefix: secret[:min(len(secret), 8)], CreatedAt: now.UTC(),
	}
	if err := ks.CreateKey(ctx, k); err != nil {
		return "", store.APIKey{}, err
	}
	return secret, k, nil
}

// Authenticator resolves keys to principals.
type Authenticator struct {
	keys KeyLookup
}

// NewAuthenticator returns an Authenticator over keys.
func NewAuthenticator(keys KeyLookup) *Authenticator { return &Authenticator{keys: keys} }

// Authenticate resolves a key secret.
func (a *Authenticator) Authenticate(ctx context.Context, secret string) (Principal, error) {
	if secret == "" {
		return Principal{}, ErrMissingKey
	}
	k, err := a.keys.KeyByHash(ctx, Hash(secret))
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrUnknownKey
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up API key: %w", err)
	}
	if k.Revoked() {
		return Principal{}, ErrRevokedKey
	}
	return Principal{Project: k.Project, Scope: k.Scope, KeyID: k.ID}, nil
}

// FromHeader extracts a key from X-API-Key, Authorization: Bearer, or the
// password of Authorization: Basic (any user name), which is how Grafana's
// data sources send a secret. The server never answers with a basic-auth
// challenge (WWW-Authenticate), so browsers never keep such credentials to
// attach to other sites' requests.
func FromHeader(h http.Header) string {
	if k := strings.TrimSpace(h.Get("X-API-Key")); k != "" {
		return k
	}
	a := h.Get("Authorization")
	if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		return strings.TrimSpace(a[7:])
	}
	if len(a) > 6 && strings.EqualFold(a[:6], "basic ") {
		// net/http's own parser, so that the rule is the standard's.
		if _, password, ok := (&http.Request{Header: http.Header{"Authorization": {a}}}).BasicAuth(); ok {
			return strings.TrimSpace(password)
		}
	}
	return ""
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal a middleware put in ctx.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Status maps an authentication error to its HTTP status.
func Status(err error) int {
	switch {
	case errors.Is(err, ErrScope):
		return http.StatusForbidden
	case errors.Is(err, ErrMissingKey), errors.Is(err, ErrUnknownKey), errors.Is(err, ErrRevokedKey):
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}

// Require returns middleware that authenticates the request's key, checks
// it has scope, and passes the principal on in the request context. Errors
// go to fail, which writes the response in the caller's format.
func (a *Authenticator) Require(scope store.Scope, fail func(w http.ResponseWriter, r *http.Request, status int, err error)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, err := a.Authenticate(r.Context(), FromHeader(r.Header))
			if err == nil && !p.Can(scope) {
				err = ErrScope
			}
			if err != nil {
				fail(w, r, Status(err), err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		})
	}
}

var projectID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidProjectID reports whether id is a valid project slug.
func ValidProjectID(id string) error {
	if !projectID.MatchString(id) {
		return fmt.Errorf("project id %q: use 1 to 63 lower-case letters, digits, - or _", id)
	}
	return nil
}

// Bootstrapper is what Bootstrap needs from the store.
type Bootstrapper interface {
	store.ProjectStore
	KeyCreator
	KeyLookup
	ListKeys(ctx context.Context, project string) ([]store.APIKey, error)
}

// DefaultProject is created at first start.
const DefaultProject = "default"

// Bootstrap creates the default project and, on a store without keys, an
// admin key whose secret it returns (to be printed once). A non-empty seed
// is made an admin key of the default project if it is not a key already.
// Servers sharing a metadata store may run it at once.
func Bootstrap(ctx context.Context, st Bootstrapper, seed string, now time.Time) (created string, err error) {
	if _, err := st.Project(ctx, DefaultProject); errors.Is(err, store.ErrNotFound) {
		if err := st.CreateProject(ctx, store.Project{ID: DefaultProject, Name: "Default", CreatedAt: now.UTC()}); err != nil && !errors.Is(err, store.ErrConflict) {
			return "", fmt.Errorf("create default project: %w", err)
		}
	} else if err != nil {
		return "", fmt.Errorf("read default project: %w", err)
	}
	if seed != "" {
		if _, err := st.KeyByHash(ctx, Hash(seed)); errors.Is(err, store.ErrNotFound) {
			// A conflict is another server on the same metadata store
			// seeding the same key at the same time: it is there.
			if _, _, err := CreateKey(ctx, st, DefaultProject, "TRACEKIT_API_KEY", store.ScopeAdmin, seed, now); err != nil && !errors.Is(err, store.ErrConflict) {
				return "", fmt.Errorf("seed TRACEKIT_API_KEY: %w", err)
			}
		} else if err != nil {
			return "", fmt.Errorf("look up TRACEKIT_API_KEY: %w", err)
		}
	}
	keys, err := st.ListKeys(ctx, DefaultProject)
	if err != nil {
		return "", err
	}
	if len(keys) > 0 {
		return "", nil
	}
	secret, _, err := CreateKey(ctx, st, DefaultProject, "first admin key", store.ScopeAdmin, "", now)
	if err != nil {
		return "", fmt.Errorf("create first admin key: %w", err)
	}
	return secret, nil
}
