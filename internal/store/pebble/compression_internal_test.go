package pebble

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// TestFlushedTablesAreZstd: a memtable reaches disk as zstd tables of
// large blocks, as compactions write them, not as Pebble's default Snappy;
// at a stop, L0 held a sixth of an ingest run's bytes.
func TestFlushedTablesAreZstd(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	st, err := Open(t.TempDir(), Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	res := &telemetry.Resource{ServiceName: "checkout", Attributes: []telemetry.Attribute{
		{Key: "service.name", Value: telemetry.StringValue("checkout")}}}
	spans := make([]telemetry.Span, 2000)
	for i := range spans {
		spans[i] = telemetry.Span{TraceID: telemetry.TraceID{1, byte(i >> 8), byte(i)}, SpanID: telemetry.SpanID{1, byte(i)},
			Name: "GET /cart", Resource: res, StartUnixNano: now.Add(-time.Minute).UnixNano(), EndUnixNano: now.UnixNano(),
			Attributes: []telemetry.Attribute{{Key: "user.id", Value: telemetry.StringValue(fmt.Sprint("user-", i))}}}
	}
	if err := st.WriteSpans(context.Background(), "p", spans); err != nil {
		t.Fatal(err)
	}
	if err := st.db.Flush(); err != nil {
		t.Fatal(err)
	}
	levels, err := st.db.SSTables(pdb.WithProperties())
	if err != nil {
		t.Fatal(err)
	}
	if len(levels[0]) == 0 {
		t.Fatal("no table in L0 after a flush")
	}
	for _, tbl := range levels[0] {
		if name := tbl.Properties.CompressionName; !strings.Contains(strings.ToLower(name), "zstd") {
			t.Errorf("L0 table %s compressed with %q, want zstd", tbl.BackingSSTNum, name)
		}
	}
}
