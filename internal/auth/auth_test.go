package auth_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
)

func TestFromHeader(t *testing.T) {
	f := func(h http.Header, want string) {
		t.Helper()
		if got := auth.FromHeader(h); got != want {
			t.Errorf("FromHeader(%v) = %q, want %q", h, got, want)
		}
	}
	f(http.Header{"X-Api-Key": {" k1 "}}, "k1")
	f(http.Header{"Authorization": {"Bearer k2"}}, "k2")
	f(http.Header{"Authorization": {"bearer k3"}}, "k3")
	f(http.Header{"Authorization": {"Basic abc"}}, "")
	basic := func(user, password string) http.Header {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		r.SetBasicAuth(user, password)
		return r.Header
	}
	f(basic("grafana", "tk_secret"), "tk_secret")
	f(basic("", "tk:with:colons"), "tk:with:colons")
	f(basic("tk_only_a_user", ""), "")
	f(http.Header{"Authorization": {"basic " + basic("u", "k4").Get("Authorization")[6:]}}, "k4")
	h := basic("u", "k5")
	h.Set("X-API-Key", "k1")
	f(h, "k1")
	f(http.Header{"X-Api-Key": {"k1"}, "Authorization": {"Bearer k2"}}, "k1")
	f(http.Header{}, "")
}

func TestBootstrapAndAuthenticate(t *testing.T) {
	st, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	now := time.Now()
	first, err := auth.Bootstrap(ctx, st, "", now)
	if err != nil || !strings.HasPrefix(first, auth.KeyPrefix) {
		t.Fatalf("first start: %q, %v", first, err)
	}
	// The second start creates nothing; a seed becomes an admin key once.
	for i := 0; i < 2; i++ {
		again, err := auth.Bootstrap(ctx, st, "seeded-key-0123456789", now)
		if err != nil || again != "" {
			t.Fatalf("restart %d: %q, %v", i, again, err)
		}
	}
	keys, _ := st.ListKeys(ctx, auth.DefaultProject)
	if len(keys) != 2 {
		t.Fatalf("%d keys, want the first admin key and the seeded one", len(keys))
	}
	for _, k := range keys {
		if k.Hash == "" || strings.Contains(k.Hash, "seeded") || k.Hash == first {
			t.Errorf("key stored unhashed: %+v", k)
		}
	}
	a := auth.NewAuthenticator(st)
	p, err := a.Authenticate(ctx, "seeded-key-0123456789")
	if err != nil || p.Project != auth.DefaultProject || p.Scope != store.ScopeAdmin || !p.Can(store.ScopeIngest) {
		t.Errorf("seeded key: %+v, %v", p, err)
	}
	secret, k, err := auth.CreateKey(ctx, st, auth.DefaultProject, "web", store.ScopeIngest, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := a.Authenticate(ctx, secret); err != nil || p.Can(store.ScopeAdmin) {
		t.Errorf("ingest key: %+v, %v", p, err)
	}
	if err := st.RevokeKey(ctx, auth.DefaultProject, k.ID, now); err != nil {
		t.Fatal(err)
	}
	for secret, want := range map[string]error{secret: auth.ErrRevokedKey, "": auth.ErrMissingKey, "tk_nope": auth.ErrUnknownKey} {
		if _, err := a.Authenticate(ctx, secret); !errors.Is(err, want) {
			t.Errorf("Authenticate(%q) = %v, want %v", secret, err, want)
		}
	}
	if _, _, err := auth.CreateKey(ctx, st, auth.DefaultProject, "x", "root", "", now); err == nil {
		t.Error("a key with an unknown scope was created")
	}
	if _, _, err := auth.CreateKey(ctx, st, auth.DefaultProject, "x", store.ScopeAdmin, "short", now); err == nil {
		t.Error("a short seeded secret was accepted")
	}
}

// seedRace is a store where another server, on the same metadata store,
// seeds the same key between Bootstrap's look-up and its insert.
type seedRace struct {
	*pebble.Store
	other func(ctx context.Context) error
}

func (s *seedRace) KeyByHash(ctx context.Context, hash string) (store.APIKey, error) {
	if other := s.other; other != nil {
		s.other = nil
		if err := other(ctx); err != nil {
			return store.APIKey{}, err
		}
		return store.APIKey{}, store.ErrNotFound // what this server saw before the other's insert
	}
	return s.Store.KeyByHash(ctx, hash)
}

// TestBootstrapSeedRace: two servers starting at once with the same seed
// both start, and the seed is one admin key.
func TestBootstrapSeedRace(t *testing.T) {
	st, err := pebble.Open(t.TempDir(), pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const seed = "seeded-key-0123456789"
	now := time.Now()
	racy := &seedRace{Store: st, other: func(ctx context.Context) error {
		_, err := auth.Bootstrap(ctx, st, seed, now)
		return err
	}}
	ctx := context.Background()
	if created, err := auth.Bootstrap(ctx, racy, seed, now); err != nil || created != "" {
		t.Fatalf("the second server's Bootstrap: %q, %v; want it to find the key the first one seeded", created, err)
	}
	if keys, _ := st.ListKeys(ctx, auth.DefaultProject); len(keys) != 1 {
		t.Errorf("%d keys, want the seeded one: %+v", len(keys), keys)
	}
}

func TestValidProjectID(t *testing.T) {
	for id, ok := range map[string]bool{"default": true, "shop-eu_1": true, "": false, "Shop": false, "-x": false, strings.Repeat("a", 64): false} {
		if err := auth.ValidProjectID(id); (err == nil) != ok {
			t.Errorf("ValidProjectID(%q) = %v", id, err)
		}
	}
}
