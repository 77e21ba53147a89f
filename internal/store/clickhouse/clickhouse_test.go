package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/clickhouse/chtest"
	"github.com/tracekit-oss/tracekit/internal/store/storetest"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// serverURL is the ClickHouse server every test of this binary uses: one
// started by TestMain (chtest), or the one TRACEKIT_CLICKHOUSE_URL names
// (to run the suite against another version).
var serverURL string

// server is the server TestMain started.
var server *chtest.Server

func TestMain(m *testing.M) { os.Exit(runTests(m)) }

func runTests(m *testing.M) int {
	start := time.Now()
	var err error
	if server, err = chtest.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "clickhouse tests need a ClickHouse server: %v\n", err)
		return 1
	}
	serverURL = server.URL()
	if os.Getenv("TRACEKIT_CLICKHOUSE_URL") == "" {
		fmt.Fprintf(os.Stderr, "clickhouse tests: server at %s ready in %v\n", serverURL, time.Since(start).Round(time.Millisecond))
	}
	code := m.Run()
	server.Stop() // before the leak check: a goroutine waits for its process
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goroutines leaked: %v\n", err)
			return 1
		}
	}
	return code
}

// freshDatabase names a database no other test uses and drops it when the
// test ends.
func freshDatabase(t testing.TB) string {
	t.Helper()
	return strings.TrimPrefix(server.NewDatabase(t), serverURL+"/")
}

func openDB(t testing.TB, db string, now func() time.Time) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, Config{URL: serverURL + "/" + db, Now: now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestTraceConformance(t *testing.T) {
	storetest.RunTraces(t, func(t *testing.T, now func() time.Time) store.TraceStore {
		return openDB(t, freshDatabase(t), now)
	})
}

func count(t *testing.T, db, sql string) uint64 {
	t.Helper()
	var n uint64
	err := adminQuery(context.Background(), serverURL, db, sql, func(r *rowReader) error {
		n = r.u64()
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestMigrationsRunOnce(t *testing.T) {
	db := freshDatabase(t)
	for range 3 {
		if err := openDB(t, db, nil).Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, db, "SELECT count() FROM schema_migrations"); n != uint64(len(migrations)) {
		t.Errorf("schema_migrations holds %d rows after three opens, want %d", n, len(migrations))
	}
	if n := count(t, db, "SELECT count() FROM system.tables WHERE database = currentDatabase()"); n != 6 {
		t.Errorf("%d tables, want 6 (schema_migrations and five of data)", n)
	}
}

// TestConcurrentOpen: servers starting at once on a new database each
// migrate it, and none fails.
func TestConcurrentOpen(t *testing.T) {
	db := freshDatabase(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), Config{URL: serverURL + "/" + db})
			if err != nil {
				errs <- err
				return
			}
			errs <- s.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	s := openDB(t, db, nil)
	defer s.Close()
	if v, err := s.schemaVersion(context.Background()); err != nil || v != migrations[len(migrations)-1].version {
		t.Errorf("schema version %d, %v; want %d", v, err, migrations[len(migrations)-1].version)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	db := freshDatabase(t)
	openDB(t, db, nil).Close()
	ctx := context.Background()
	if err := adminExec(ctx, serverURL, "INSERT INTO "+db+".schema_migrations (version, description) VALUES (999, 'from the future')"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, Config{URL: serverURL + "/" + db})
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a database at a newer schema: %v, want an error asking to upgrade", err)
	}
}

func TestServerVersion(t *testing.T) {
	s := openDB(t, freshDatabase(t), nil)
	defer s.Close()
	v := s.ServerVersion()
	if v.Major < 18 {
		t.Fatalf("ServerVersion = %v", v)
	}
	t.Logf("server %v, features: %v", v, s.feat)
}

func TestParseVersion(t *testing.T) {
	f := func(in string, want Version, ok bool) {
		t.Helper()
		got, err := ParseVersion(in)
		if (err == nil) != ok || got != want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v, ok %v", in, got, err, want, ok)
		}
	}
	f("18.16.1", Version{18, 16, 1}, true)
	f("24.3.2.23\n", Version{24, 3, 2}, true)
	f("21.8", Version{21, 8, 0}, true)
	f("", Version{}, false)
	f("18", Version{}, false)
	f("x.y.z", Version{}, false)
}

// TestSchemaByVersion: the DDL for Debian's 18.16 uses nothing that server
// lacks; for current servers it uses each feature.
func TestSchemaByVersion(t *testing.T) {
	render := func(v Version) string {
		var all []string
		for _, m := range migrations {
			all = append(all, m.statements(featuresOf(v))...)
		}
		return strings.Join(all, "\n")
	}
	old := render(Version{18, 16, 1})
	for _, word := range []string{"LowCardinality", "CODEC", "INDEX", "TTL", "SETTINGS"} {
		if strings.Contains(old, word) {
			t.Errorf("schema for 18.16 uses %s", word)
		}
	}
	cur := render(Version{24, 3, 0})
	for _, word := range []string{"LowCardinality(String)", "CODEC(Delta, ZSTD(1))", "TYPE bloom_filter", "ttl_only_drop_parts"} {
		if !strings.Contains(cur, word) {
			t.Errorf("schema for 24.3 lacks %s", word)
		}
	}
	if f := featuresOf(Version{18, 16, 1}); f != (features{}) {
		t.Errorf("features of 18.16 = %v, want none", f)
	}
}

func TestBadURL(t *testing.T) {
	f := func(raw, mention string) {
		t.Helper()
		_, err := Open(context.Background(), Config{URL: raw})
		if err == nil || !strings.Contains(err.Error(), "--storage-url") || !strings.Contains(err.Error(), mention) {
			t.Errorf("Open(%q) = %v; want an error naming --storage-url and %q", raw, err, mention)
		}
	}
	f("", "empty")
	f("tcp://127.0.0.1:9000/db", "scheme")
	f("http:///db", "no host")
	f("http://127.0.0.1:99999/db", "port")
	f("http://127.0.0.1:8123/bad-name", "database name")
	f("http://127.0.0.1:8123/a/b", "database name")
	f("http://u:secret@127.0.0.1:8123/x;y", "database name")
	_, err := Open(context.Background(), Config{URL: "http://u:secret@127.0.0.1:8123/x;y"})
	if err != nil && strings.Contains(err.Error(), "secret") {
		t.Errorf("error shows the password: %v", err)
	}
}

func TestServerDown(t *testing.T) {
	port, err := freePort() // nothing listens there once freePort returns
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = Open(ctx, Config{URL: fmt.Sprintf("http://127.0.0.1:%d/tracekit", port)})
	if err == nil || !strings.Contains(err.Error(), "connect to ClickHouse") || !strings.Contains(err.Error(), "--storage-url") {
		t.Fatalf("Open with no server: %v; want a connection error naming --storage-url", err)
	}
}

func TestHealthAndClose(t *testing.T) {
	s := openDB(t, freshDatabase(t), nil)
	if err := s.Health(); err != nil {
		t.Errorf("Health: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err == nil {
		t.Error("second Close succeeded")
	}
	if err := s.Health(); err == nil {
		t.Error("Health after Close succeeded")
	}
	if err := s.WriteSpans(context.Background(), "p", []telemetry.Span{{Name: "x"}}); !errors.Is(err, errClosed) {
		t.Errorf("WriteSpans after Close: %v", err)
	}
}

func TestCanceledContext(t *testing.T) {
	s := openDB(t, freshDatabase(t), nil)
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.FindTraces(ctx, "p", store.TraceQuery{}); !errors.Is(err, context.Canceled) {
		t.Errorf("FindTraces with a canceled context: %v", err)
	}
}

func TestServerErrorMessage(t *testing.T) {
	s := openDB(t, freshDatabase(t), nil)
	defer s.Close()
	err := s.c.exec(context.Background(), "SELECT * FROM no_such_table")
	var se *ServerError
	if !errors.As(err, &se) || se.Code != 60 || !strings.Contains(se.Message, "no_such_table") {
		t.Errorf("error = %#v, want the server's code 60 and message", err)
	}
}

// TestQuote: every byte string survives as a literal.
func TestQuote(t *testing.T) {
	var all []byte
	for i := 0; i < 256; i++ {
		all = append(all, byte(i))
	}
	for _, s := range []string{"", "plain", `it's`, `back\slash`, "\\'", "tab\tnew\nline\r", "\x00nul", "ünïcödé ✓", string(all), `'); DROP TABLE spans; --`} {
		var got string
		err := adminQuery(context.Background(), serverURL, "", "SELECT "+quote(s), func(r *rowReader) error {
			got = r.str()
			return nil
		})
		if err != nil || got != s {
			t.Errorf("SELECT %s = %q, %v; want %q", quote(s), got, err, s)
		}
	}
}

func tid(n byte) telemetry.TraceID { return telemetry.TraceID{0xaa, 15: n} }

func spanAt(trace, id byte, start time.Time) telemetry.Span {
	return telemetry.Span{TraceID: tid(trace), SpanID: telemetry.SpanID{0xbb, 7: id}, Name: "op", Kind: telemetry.KindServer,
		StartUnixNano: start.UnixNano(), EndUnixNano: start.Add(time.Millisecond).UnixNano(),
		Resource: &telemetry.Resource{ServiceName: "svc"}}
}

// TestRetentionDropsPartitions: retention unlinks whole day partitions of
// every span table and keeps the cutoff's day.
func TestRetentionDropsPartitions(t *testing.T) {
	base := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	db := freshDatabase(t)
	s := openDB(t, db, func() time.Time { return base })
	defer s.Close()
	ctx := context.Background()
	for i := byte(0); i < 4; i++ {
		if err := s.WriteSpans(ctx, "p", []telemetry.Span{spanAt(i+1, 1, base.Add(-time.Duration(i)*day))}); err != nil {
			t.Fatal(err)
		}
	}
	partitions := func() uint64 {
		return count(t, db, "SELECT uniqExact(table, partition_id) FROM system.parts WHERE database = currentDatabase() AND active AND table IN ('spans', 'trace_index', 'operations')")
	}
	if n := partitions(); n != 12 {
		t.Fatalf("%d partitions before retention, want 4 days x 3 tables", n)
	}
	// The cutoff lies within base-2d: that day stays, base-3d goes.
	if err := s.DeleteSpansBefore(ctx, base.Add(-2*day-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := partitions(); n != 9 {
		t.Errorf("%d partitions after retention, want 3 days x 3 tables", n)
	}
	if _, err := s.Trace(ctx, "p", tid(4)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("trace of a dropped day: %v", err)
	}
	if _, err := s.Trace(ctx, "p", tid(3)); err != nil {
		t.Errorf("trace of the cutoff's day: %v", err)
	}
}

// TestRetriedBatchMerged: a batch delivered three times is read once before
// the server merges the copies, and merged into one row after.
func TestRetriedBatchMerged(t *testing.T) {
	base := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	db := freshDatabase(t)
	s := openDB(t, db, func() time.Time { return base })
	defer s.Close()
	ctx := context.Background()
	batch := []telemetry.Span{spanAt(1, 1, base.Add(-time.Minute)), spanAt(1, 2, base.Add(-time.Second))}
	batch[1].ParentSpanID = batch[0].SpanID
	for range 3 {
		if err := s.WriteSpans(ctx, "p", batch); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		got, err := s.Trace(ctx, "p", tid(1))
		if err != nil || len(got) != 2 {
			t.Errorf("%s: Trace = %d spans, %v; want 2", when, len(got), err)
		}
		found, err := s.FindTraces(ctx, "p", store.TraceQuery{})
		if err != nil || len(found) != 1 || found[0].SpanCount != 2 {
			t.Errorf("%s: FindTraces = %+v, %v; want one trace of 2 spans", when, found, err)
		}
		stats, err := s.OperationStats(ctx, "p", base.Add(-time.Hour), base)
		if err != nil || len(stats) != 2 || stats[1].Count != 2 {
			t.Errorf("%s: OperationStats = %+v, %v; want op counted twice (two spans)", when, stats, err)
		}
	}
	check("before merge")
	if n := count(t, db, "SELECT count() FROM spans"); n != 6 {
		t.Errorf("spans holds %d rows before merge, want 6 (three copies of two)", n)
	}
	for _, table := range spanTables {
		if err := s.c.exec(ctx, "OPTIMIZE TABLE "+table+" FINAL"); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, db, "SELECT count() FROM spans"); n != 2 {
		t.Errorf("spans holds %d rows after merge, want 2", n)
	}
	check("after merge")
}
