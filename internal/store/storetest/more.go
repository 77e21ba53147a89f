package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

func testRetention(t *testing.T, open TraceOpener) {
	s := openStore(t, open)
	res := Resource("svc")
	old := base.Add(-10 * 24 * time.Hour)
	write(t, s, "p", span(res, 1, 1, 0, "old", old, time.Millisecond))
	write(t, s, "p", span(res, 2, 2, 0, "new", base.Add(-time.Minute), time.Millisecond))
	ctx := context.Background()
	if err := s.DeleteSpansBefore(ctx, base.Add(-5*24*time.Hour)); err != nil {
		t.Fatalf("DeleteSpansBefore: %v", err)
	}
	if _, err := s.Trace(ctx, "p", tid(1)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("old trace still readable: %v", err)
	}
	if got, _ := s.FindTraces(ctx, "p", store.TraceQuery{}); len(got) != 1 || got[0].RootOperation != "new" {
		t.Errorf("FindTraces after retention = %+v", got)
	}
	if _, err := s.Trace(ctx, "p", tid(2)); err != nil {
		t.Errorf("new trace lost: %v", err)
	}
	// Retention never drops data newer than the cutoff, even within its day.
	if err := s.DeleteSpansBefore(ctx, base.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Trace(ctx, "p", tid(2)); err != nil {
		t.Errorf("trace newer than cutoff dropped: %v", err)
	}
}

func testConcurrentWrites(t *testing.T, open TraceOpener) {
	s := openStore(t, open)
	res := Resource("svc")
	var wg sync.WaitGroup
	const writers, perWriter = 4, 25
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				n := w*perWriter + i + 1
				sp := span(res, 1000, n, 0, "op", base.Add(-time.Duration(n)*time.Second), time.Millisecond)
				if n > 1 {
					sp.ParentSpanID = sid(1)
				}
				if err := s.WriteSpans(context.Background(), "p", []telemetry.Span{sp}); err != nil {
					t.Errorf("WriteSpans: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	got, err := s.Trace(context.Background(), "p", tid(1000))
	if err != nil || len(got) != writers*perWriter {
		t.Fatalf("Trace = %d spans, %v; want %d", len(got), err, writers*perWriter)
	}
}

func testProjects(t *testing.T, open MetadataOpener) {
	s := openStore(t, open)
	ctx := context.Background()
	p := store.Project{ID: "shop", Name: "Shop", CreatedAt: base}
	if err := s.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateProject(ctx, p); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second CreateProject: %v, want ErrConflict", err)
	}
	if err := s.CreateProject(ctx, store.Project{ID: "blog", Name: "Blog", CreatedAt: base}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Project(ctx, "shop")
	if err != nil || got.Name != "Shop" || !got.CreatedAt.Equal(base) {
		t.Errorf("Project = %+v, %v", got, err)
	}
	if _, err := s.Project(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Project(nope): %v", err)
	}
	all, err := s.ListProjects(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "blog" || all[1].ID != "shop" {
		t.Errorf("ListProjects = %+v, %v", all, err)
	}
}

func testKeys(t *testing.T, open MetadataOpener) {
	s := openStore(t, open)
	ctx := context.Background()
	k1 := store.APIKey{ID: "k1", Project: "shop", Name: "ci", Scope: store.ScopeAdmin, Hash: "h1", Prefix: "tk_ab", CreatedAt: base}
	k2 := store.APIKey{ID: "k2", Project: "shop", Name: "web", Scope: store.ScopeIngest, Hash: "h2", Prefix: "tk_cd", CreatedAt: base.Add(time.Second)}
	k3 := store.APIKey{ID: "k3", Project: "blog", Name: "x", Scope: store.ScopeIngest, Hash: "h3", Prefix: "tk_ef", CreatedAt: base}
	for _, k := range []store.APIKey{k2, k1, k3} {
		if err := s.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateKey(ctx, store.APIKey{ID: "k9", Project: "shop", Hash: "h1", Scope: store.ScopeAdmin}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("duplicate hash: %v, want ErrConflict", err)
	}
	got, err := s.KeyByHash(ctx, "h2")
	if err != nil || got.ID != "k2" || got.Scope != store.ScopeIngest || got.Hash != "h2" || got.Revoked() {
		t.Errorf("KeyByHash = %+v, %v", got, err)
	}
	if _, err := s.KeyByHash(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("KeyByHash(nope): %v", err)
	}
	list, err := s.ListKeys(ctx, "shop")
	if err != nil || len(list) != 2 || list[0].ID != "k1" || list[1].ID != "k2" {
		t.Errorf("ListKeys = %+v, %v", list, err)
	}
	if err := s.RevokeKey(ctx, "blog", "k1", base); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking another project's key: %v, want ErrNotFound", err)
	}
	if err := s.RevokeKey(ctx, "shop", "k1", base.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err = s.KeyByHash(ctx, "h1")
	if err != nil || !got.Revoked() || !got.RevokedAt.Equal(base.Add(time.Hour)) {
		t.Errorf("after revoke: %+v, %v", got, err)
	}
}
