package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
)

// TestOpenErrors: a bad URL or an unreachable server fails Open at once,
// saying what to change.
func TestOpenErrors(t *testing.T) {
	port, err := freePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	f := func(url string, want ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		start := time.Now()
		s, err := Open(ctx, Config{URL: url})
		if err == nil {
			_ = s.Close()
			t.Fatalf("Open(%q) succeeded", url)
		}
		t.Logf("Open(%q): %v", url, err)
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Open(%q) = %q, want it to say %q", url, err, w)
			}
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("Open(%q) = %q shows the password", url, err)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("Open(%q) took %v to fail", url, d)
		}
	}
	f("", "--metadata-url")
	f("postgres://tk:s3cret@127.0.0.1:notaport/db", "--metadata-url")
	f("mysql://localhost/db", "--metadata-url")
	f(fmt.Sprintf("postgres://tk:s3cret@127.0.0.1:%d/tracekit?sslmode=disable", port),
		"--metadata-url", fmt.Sprintf("connect to PostgreSQL at 127.0.0.1:%d/tracekit", port))
	f("postgres://postgres@"+server.Addr()+"/no_such_db?sslmode=disable",
		"--metadata-url", "no_such_db")
}

// TestHealth: Health reports a database that went away.
func TestHealth(t *testing.T) {
	url := newDatabase(t)
	s := open(t, url, nil)
	if err := s.Health(); err != nil {
		t.Fatalf("Health = %v", err)
	}
	db := url[strings.LastIndex(url, "/")+1 : strings.Index(url, "?")]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin(t, ctx, "DROP DATABASE "+db+" WITH (FORCE)")
	if err := s.Health(); err == nil || !strings.Contains(err.Error(), "PostgreSQL at 127.0.0.1") {
		t.Errorf("Health after the database was dropped = %v", err)
	}
}

// TestConflicts: what must be unique is, whichever server writes it.
func TestConflicts(t *testing.T) {
	url := newDatabase(t)
	a, b := open(t, url, nil), open(t, url, nil)
	ctx := context.Background()
	now := time.Now()
	key := func(project, id, hash string) store.APIKey {
		return store.APIKey{ID: id, Project: project, Name: id, Scope: store.ScopeIngest, Hash: hash, Prefix: "tk_", CreatedAt: now}
	}
	user := func(id, email string) store.User {
		return store.User{ID: id, Email: email, PasswordHash: "$2a$x", CreatedAt: now}
	}
	for _, step := range []struct {
		what     string
		do       func(*Store) error
		conflict bool
	}{
		{"key", func(s *Store) error { return s.CreateKey(ctx, key("p", "k1", "h1")) }, false},
		{"key with a taken hash, other project", func(s *Store) error { return s.CreateKey(ctx, key("q", "k2", "h1")) }, true},
		{"key with a taken ID", func(s *Store) error { return s.CreateKey(ctx, key("p", "k1", "h2")) }, true},
		{"same key ID in another project", func(s *Store) error { return s.CreateKey(ctx, key("q", "k1", "h3")) }, false},
		{"user", func(s *Store) error { return s.CreateUser(ctx, user("u1", "Ann@Example.com")) }, false},
		{"user with the email in other case and spaces", func(s *Store) error { return s.CreateUser(ctx, user("u2", " ann@example.COM ")) }, true},
		{"user with a taken ID", func(s *Store) error { return s.CreateUser(ctx, user("u1", "bob@example.com")) }, true},
		{"project", func(s *Store) error { return s.CreateProject(ctx, store.Project{ID: "p", CreatedAt: now}) }, false},
		{"project again", func(s *Store) error { return s.CreateProject(ctx, store.Project{ID: "p", CreatedAt: now}) }, true},
		{"session", func(s *Store) error {
			return s.CreateSession(ctx, store.Session{Hash: "s1", UserID: "u1", ExpiresAt: now})
		}, false},
		{"session again", func(s *Store) error {
			return s.CreateSession(ctx, store.Session{Hash: "s1", UserID: "u1", ExpiresAt: now})
		}, true},
	} {
		for _, s := range []*Store{a, b} {
			err := step.do(s)
			if step.conflict && !errors.Is(err, store.ErrConflict) {
				t.Errorf("%s: %v, want ErrConflict", step.what, err)
			}
			if !step.conflict && err != nil {
				t.Errorf("%s: %v", step.what, err)
			}
			if !step.conflict {
				break // once is the test; twice is a conflict
			}
		}
	}
	if u, err := b.UserByEmail(ctx, "ANN@example.com "); err != nil || u.ID != "u1" || u.Email != "Ann@Example.com" {
		t.Errorf("UserByEmail = %+v, %v", u, err)
	}
	// The email may change case, not address.
	u := user("u1", "ann@example.com")
	if err := a.UpdateUser(ctx, u); err != nil {
		t.Errorf("UpdateUser with the email in other case: %v", err)
	}
	u.Email = "eve@example.com"
	if err := a.UpdateUser(ctx, u); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateUser changing the email: %v, want a refusal", err)
	}
}

// TestRateLimitAcrossServers: the per-minute limit is one for every server
// and caller; hits of a minute before the window's count against it.
func TestRateLimitAcrossServers(t *testing.T) {
	url := newDatabase(t)
	servers := []*Store{open(t, url, nil), open(t, url, nil), open(t, url, nil)}
	ctx := context.Background()
	minute := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	bp := store.Breakpoint{ID: "b1", Project: "p", Service: "pay", Type: store.BreakpointLine, RateLimit: 25,
		ExpiresAt: minute.Add(time.Hour), CreatedAt: minute, UpdatedAt: minute}
	if err := servers[0].PutBreakpoint(ctx, bp); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var admitted int64
	var wg sync.WaitGroup
	for _, s := range servers {
		for w := range 4 {
			wg.Go(func() {
				for i := range 5 {
					n, err := s.AdmitHits(ctx, "p", "b1", 2, 25, minute.Add(time.Duration(w*5+i)*time.Second))
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					admitted += n
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if admitted != 25 {
		t.Errorf("admitted %d of 120 hits in one minute, want the limit of 25", admitted)
	}
	f := func(s *Store, n int64, perMinute int, at time.Time, want int64) {
		t.Helper()
		if got, err := s.AdmitHits(ctx, "p", "b1", n, perMinute, at); err != nil || got != want {
			t.Errorf("AdmitHits(%d, %d/min, %s) = %d, %v; want %d", n, perMinute, at.Format("15:04:05"), got, err, want)
		}
	}
	f(servers[1], 30, 25, minute.Add(time.Minute), 25)           // a new minute
	f(servers[2], 1, 25, minute.Add(59*time.Second), 0)          // late, from the full minute before
	f(servers[0], 5, 30, minute.Add(time.Minute+time.Second), 5) // the limit raised
	f(servers[0], 5, 10, minute.Add(time.Minute+time.Second), 0) // and lowered below the count
	f(servers[0], 5, 0, minute, 5)                               // no limit
	got, err := servers[2].Breakpoint(ctx, "p", "b1")
	if err != nil || got.Hits != 60 || got.LastHitAt == nil || !got.LastHitAt.Equal(minute.Add(time.Minute+time.Second)) {
		t.Errorf("counters = %d at %v, %v; want 60 at %v", got.Hits, got.LastHitAt, err, minute.Add(time.Minute+time.Second))
	}
	if got.LastHitAt != nil && got.LastHitAt.Location() != time.UTC {
		t.Errorf("LastHitAt in %v, want UTC", got.LastHitAt.Location())
	}
	// A deleted and recreated breakpoint starts a fresh window.
	if err := servers[1].DeleteBreakpoint(ctx, "p", "b1"); err != nil {
		t.Fatal(err)
	}
	if err := servers[1].PutBreakpoint(ctx, bp); err != nil {
		t.Fatal(err)
	}
	f(servers[2], 30, 25, minute.Add(time.Minute), 25)
	if got, _ := servers[0].Breakpoint(ctx, "p", "b1"); got.Hits != 25 {
		t.Errorf("recreated breakpoint has %d hits, want 25", got.Hits)
	}
}
