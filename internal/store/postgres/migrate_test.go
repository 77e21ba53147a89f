package postgres

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
)

// TestMigrateConcurrentOpens: servers starting at once on an empty
// database apply each migration once, and opening again changes nothing.
func TestMigrateConcurrentOpens(t *testing.T) {
	url := newDatabase(t)
	ctx := context.Background()
	all, err := migrations()
	if err != nil || len(all) == 0 {
		t.Fatalf("migrations = %d, %v", len(all), err)
	}
	const servers = 4
	stores := make([]*Store, servers)
	errs := make([]error, servers)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Go(func() { stores[i], errs[i] = Open(ctx, Config{URL: url}) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	if err := stores[0].CreateProject(ctx, store.Project{ID: "shop", Name: "Shop", CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}

	again := open(t, url, nil)
	if _, err := again.Project(ctx, "shop"); err != nil {
		t.Errorf("data after opening again: %v", err)
	}
	rows, err := again.pool.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	var versions []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(versions) != len(all) {
		t.Fatalf("schema_migrations = %v, want versions 1 to %d once each", versions, len(all))
	}
	for i, v := range versions {
		if v != i+1 {
			t.Fatalf("schema_migrations = %v, want versions 1 to %d once each", versions, len(all))
		}
	}
}

// TestMigrateNewerSchema: a database that a newer TraceKit migrated opens,
// with a warning, so that a rolling upgrade does not stop old servers.
func TestMigrateNewerSchema(t *testing.T) {
	url := newDatabase(t)
	ctx := context.Background()
	s := open(t, url, nil)
	if _, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', now())`); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	s2, err := Open(ctx, Config{URL: url, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatalf("Open on a newer schema: %v", err)
	}
	_ = s2.Close()
	if !strings.Contains(log.String(), "schema_version=9999") {
		t.Errorf("no warning about the newer schema; log: %s", log.String())
	}
}
