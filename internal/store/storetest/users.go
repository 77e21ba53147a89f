package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// The dashboard's records and the span statistics are optional interfaces:
// a backend that lacks one skips its tests by name.

func testUsers(t *testing.T, open MetadataOpener) {
	us, ok := openStore(t, open).(store.UserStore)
	if !ok {
		t.Skip("backend does not implement store.UserStore")
	}
	ctx := context.Background()
	alice := store.User{ID: "u1", Email: "Alice@Example.com", PasswordHash: "$2a$hash", Projects: []string{"p1"}, CreatedAt: base}
	bob := store.User{ID: "u2", Email: "bob@example.com", PasswordHash: "$2a$other", Admin: true, Projects: []string{"p1", "p2"}, CreatedAt: base.Add(time.Second)}
	for _, u := range []store.User{bob, alice} {
		if err := us.CreateUser(ctx, u); err != nil {
			t.Fatalf("CreateUser(%s): %v", u.Email, err)
		}
	}
	if err := us.CreateUser(ctx, store.User{ID: "u3", Email: "alice@example.COM", CreatedAt: base}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second user with the same email: err = %v, want ErrConflict", err)
	}
	if err := us.CreateUser(ctx, store.User{ID: "u1", Email: "carol@example.com", CreatedAt: base}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second user with the same ID: err = %v, want ErrConflict", err)
	}
	got, err := us.UserByEmail(ctx, "ALICE@example.com")
	if err != nil || got.ID != "u1" || got.PasswordHash != "$2a$hash" || !got.MemberOf("p1") || got.MemberOf("p2") {
		t.Errorf("UserByEmail = %+v, %v", got, err)
	}
	if _, err := us.UserByEmail(ctx, "nobody@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown email: err = %v, want ErrNotFound", err)
	}
	if _, err := us.User(ctx, "u9"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown ID: err = %v, want ErrNotFound", err)
	}
	list, err := us.ListUsers(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "u1" || list[1].ID != "u2" || !list[1].Admin {
		t.Errorf("ListUsers = %+v, %v", list, err)
	}
	alice.Projects = append(alice.Projects, "p3")
	alice.PasswordHash = "$2a$new"
	if err := us.UpdateUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if got, _ := us.User(ctx, "u1"); !got.MemberOf("p3") || got.PasswordHash != "$2a$new" {
		t.Errorf("after UpdateUser: %+v", got)
	}
	alice.Email = "mallory@example.com"
	if err := us.UpdateUser(ctx, alice); err == nil {
		t.Error("UpdateUser changed the email")
	}
	if err := us.UpdateUser(ctx, store.User{ID: "u9", Email: "x@example.com"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UpdateUser of unknown user: err = %v, want ErrNotFound", err)
	}
}

func testSessions(t *testing.T, open MetadataOpener) {
	ss, ok := openStore(t, open).(store.SessionStore)
	if !ok {
		t.Skip("backend does not implement store.SessionStore")
	}
	ctx := context.Background()
	a := store.Session{Hash: "h1", UserID: "u1", CSRF: "c1", CreatedAt: base, ExpiresAt: base.Add(time.Hour)}
	b := store.Session{Hash: "h2", UserID: "u1", CSRF: "c2", CreatedAt: base, ExpiresAt: base.Add(-time.Minute)}
	for _, se := range []store.Session{a, b} {
		if err := ss.CreateSession(ctx, se); err != nil {
			t.Fatal(err)
		}
	}
	if err := ss.CreateSession(ctx, a); !errors.Is(err, store.ErrConflict) {
		t.Errorf("same hash twice: err = %v, want ErrConflict", err)
	}
	got, err := ss.Session(ctx, "h1")
	if err != nil || got.UserID != "u1" || got.CSRF != "c1" || !got.ExpiresAt.Equal(a.ExpiresAt) {
		t.Errorf("Session = %+v, %v", got, err)
	}
	if err := ss.DeleteSessionsBefore(ctx, base); err != nil {
		t.Fatal(err)
	}
	if _, err := ss.Session(ctx, "h2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("expired session kept: err = %v", err)
	}
	if _, err := ss.Session(ctx, "h1"); err != nil {
		t.Errorf("live session dropped: %v", err)
	}
	if err := ss.DeleteSession(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if err := ss.DeleteSession(ctx, "h1"); err != nil {
		t.Errorf("deleting a missing session: %v", err)
	}
	if _, err := ss.Session(ctx, "h1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("deleted session: err = %v, want ErrNotFound", err)
	}
}

func testSettings(t *testing.T, open MetadataOpener) {
	ss, ok := openStore(t, open).(store.SettingsStore)
	if !ok {
		t.Skip("backend does not implement store.SettingsStore")
	}
	ctx := context.Background()
	if got, err := ss.Settings(ctx); err != nil || got != (store.Settings{}) {
		t.Errorf("Settings before any = %+v, %v; want zero", got, err)
	}
	want := store.Settings{TraceRetention: 72 * time.Hour, SnapshotRetention: 48 * time.Hour, UpdatedAt: base}
	if err := ss.PutSettings(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, err := ss.Settings(ctx); err != nil || got.TraceRetention != want.TraceRetention || got.SnapshotRetention != want.SnapshotRetention || !got.UpdatedAt.Equal(base) {
		t.Errorf("Settings = %+v, %v; want %+v", got, err, want)
	}
}

func testOperationStats(t *testing.T, open TraceOpener) {
	s := openStore(t, open)
	sr, ok := s.(store.SpanStatsReader)
	if !ok {
		t.Skip("backend does not implement store.SpanStatsReader")
	}
	api, db := Resource("api"), Resource("db")
	t0 := base.Add(-30 * time.Minute)
	var spans []telemetry.Span
	// 100 requests of 1..100 ms, every tenth one failing, each with a
	// database call of a tenth of its duration; spread over 25 seconds so
	// that they fall into several index blocks.
	for i := 1; i <= 100; i++ {
		at := t0.Add(time.Duration(i) * 250 * time.Millisecond)
		root := span(api, i, 1, 0, "GET /orders", at, time.Duration(i)*time.Millisecond)
		if i%10 == 0 {
			root.StatusCode = telemetry.StatusError
		}
		child := span(db, i, 2, 1, "SELECT orders", at, time.Duration(i)*100*time.Microsecond)
		child.Kind = telemetry.KindClient
		spans = append(spans, root, child)
	}
	old := span(api, 500, 1, 0, "GET /orders", base.Add(-3*time.Hour), time.Hour)
	spans = append(spans, old)
	write(t, s, "p1", spans...)
	write(t, s, "p2", span(api, 600, 1, 0, "GET /other", t0, time.Second))

	got, err := sr.OperationStats(context.Background(), "p1", base.Add(-time.Hour), base)
	if err != nil {
		t.Fatal(err)
	}
	type key struct{ svc, op string }
	rows := map[key]store.OperationStats{}
	var order []key
	for _, r := range got {
		rows[key{r.Service, r.Operation}] = r
		order = append(order, key{r.Service, r.Operation})
	}
	wantOrder := []key{{"api", ""}, {"api", "GET /orders"}, {"db", ""}, {"db", "SELECT orders"}}
	if len(order) != len(wantOrder) {
		t.Fatalf("OperationStats rows = %v, want %v", order, wantOrder)
	}
	for i := range order {
		if order[i] != wantOrder[i] {
			t.Fatalf("OperationStats rows = %v, want %v", order, wantOrder)
		}
	}
	near := func(what string, got, want time.Duration) {
		t.Helper()
		if diff := got - want; diff > want/100 || -diff > want/100 {
			t.Errorf("%s = %v, want %v within 1%%", what, got, want)
		}
	}
	for _, k := range []key{{"api", ""}, {"api", "GET /orders"}} {
		r := rows[k]
		if r.Count != 100 || r.Errors != 10 {
			t.Errorf("%v: count %d errors %d, want 100 and 10", k, r.Count, r.Errors)
		}
		near("p50", r.P50, 50*time.Millisecond)
		near("p95", r.P95, 95*time.Millisecond)
		near("p99", r.P99, 99*time.Millisecond)
	}
	if r := rows[key{"api", "GET /orders"}]; r.Kind != telemetry.KindServer {
		t.Errorf("kind of GET /orders = %v, want server", r.Kind)
	}
	// Client spans are not requests the database service handled.
	if r := rows[key{"db", ""}]; r.Count != 0 {
		t.Errorf("db service row counts %d entry spans, want 0", r.Count)
	}
	if r := rows[key{"db", "SELECT orders"}]; r.Count != 100 || r.Errors != 0 || r.Kind != telemetry.KindClient {
		t.Errorf("SELECT orders = %+v", r)
	} else {
		near("db p99", r.P99, 9900*time.Microsecond)
	}
	if empty, err := sr.OperationStats(context.Background(), "p1", base.Add(-10*time.Minute), base); err != nil || len(empty) != 0 {
		t.Errorf("window without spans: %+v, %v", empty, err)
	}
}
