package backend_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/backend"
)

func TestValidateNamesTheFlag(t *testing.T) {
	for _, c := range []struct {
		cfg  backend.Config
		want string
	}{
		{backend.Config{Traces: "cassandra", DataDir: "d"}, "--storage"},
		{backend.Config{Metadata: "mysql", DataDir: "d"}, "--metadata"},
		{backend.Config{Traces: backend.ClickHouse, DataDir: "d"}, "--storage-url"},
		{backend.Config{Metadata: backend.Postgres, DataDir: "d"}, "--metadata-url"},
		{backend.Config{}, "--data"},
	} {
		err := c.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error naming %s", c.cfg, err, c.want)
		}
	}
	ok := backend.Config{Traces: backend.ClickHouse, TracesURL: "http://127.0.0.1:8123/t", Metadata: backend.Postgres, MetadataURL: "postgres://x@127.0.0.1/t"}
	if err := ok.Validate(); err != nil {
		t.Errorf("no embedded store needs no --data: %v", err)
	}
}

// Both contracts on Pebble are one database: metadata written through one
// is what the other sees, and Close releases it once.
func TestPebbleForBoth(t *testing.T) {
	ctx := context.Background()
	st, err := backend.Open(ctx, backend.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if any(st.Traces) != any(st.Metadata) {
		t.Errorf("two Pebble databases for one directory")
	}
	if err := st.Metadata.CreateProject(ctx, store.Project{ID: "p", Name: "P"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Health(); err != nil {
		t.Errorf("health: %v", err)
	}
	if st.DiskUsage() <= 0 {
		t.Errorf("disk usage %d", st.DiskUsage())
	}
	if err := st.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}
