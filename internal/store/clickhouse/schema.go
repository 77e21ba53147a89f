package clickhouse

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// A migration is one schema version: statements that each must be safe to
// run again (CREATE ... IF NOT EXISTS), because ClickHouse has no
// transactions: two servers starting at once may both run a migration, and
// a server that dies between a statement and recording the version runs it
// again at its next start.
type migration struct {
	version     uint32
	description string
	statements  func(f features) []string
}

// migrations are applied in order; append, never edit one that shipped.
var migrations = []migration{
	{1, "spans, ordered for service and time searches", func(f features) []string { return []string{spansTable(f)} }},
	{2, "trace_index: a trace's spans by trace ID", func(f features) []string { return []string{traceIndexTable(f)} }},
	{3, "operations: service and operation names", func(f features) []string { return []string{operationsTable(f)} }},
	{4, "snapshots and log lines", func(f features) []string { return []string{snapshotsTable(f), logsTable(f)} }},
}

// dayTables are the tables partitioned by day, dropped together by
// retention.
var (
	spanTables   = []string{"spans", "trace_index", "operations"}
	recordTables = []string{"snapshots", "logs"}
)

// col renders a column whose type and codec depend on the server.
type colSet struct {
	f features
	b strings.Builder
}

func (c *colSet) add(name, typ string) {
	if c.b.Len() > 0 {
		c.b.WriteString(",\n  ")
	}
	c.b.WriteString(name + " " + typ)
}

// lc is a string column that repeats a lot: LowCardinality where the server
// has it.
func (c *colSet) lc(name string) {
	if c.f.lowCardinality {
		c.add(name, "LowCardinality(String)")
		return
	}
	c.add(name, "String")
}

// zstd is a large column that compresses well.
func (c *colSet) zstd(name, typ string) {
	if c.f.codecs {
		c.add(name, typ+" CODEC(ZSTD(1))")
		return
	}
	c.add(name, typ)
}

// delta is a column of times, close to each other in sort order.
func (c *colSet) delta(name, typ string) {
	if c.f.codecs {
		c.add(name, typ+" CODEC(Delta, ZSTD(1))")
		return
	}
	c.add(name, typ)
}

func (c *colSet) index(def string) {
	if c.f.skipIndexes {
		c.add("INDEX", def)
	}
}

func table(name string, c *colSet, engine, order string) string {
	settings := ""
	if c.f.ttl {
		// TTL (applyTTL) drops whole day parts, never rewrites them.
		settings = "\nSETTINGS ttl_only_drop_parts = 1"
	}
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n  %s\n) ENGINE = %s\nPARTITION BY day\nORDER BY (%s)%s",
		name, c.b.String(), engine, order, settings)
}

// spansTable holds whole spans. Each day is a partition; within it rows are
// sorted by project, service and start, so a search of one service over a
// time range reads a contiguous range. A span written twice has the same
// sorting key and the same day, and ReplacingMergeTree folds the copies when
// it merges parts; reads fold those not merged yet.
func spansTable(f features) string {
	c := &colSet{f: f}
	c.lc("project")
	c.add("day", "Date")
	c.lc("service")
	c.lc("name")
	c.delta("start_ns", "Int64")
	c.delta("end_ns", "Int64")
	c.add("duration_ns", "Int64")
	c.add("trace_id", "FixedString(16)")
	c.add("span_id", "FixedString(8)")
	c.add("parent_span_id", "FixedString(8)")
	c.add("trace_state", "String")
	c.add("kind", "UInt8")
	c.add("status_code", "UInt8")
	c.add("status_message", "String")
	c.lc("scope_name")
	c.lc("scope_version")
	c.zstd("attr_keys", "Array(String)")
	c.zstd("attr_types", "Array(UInt8)")
	c.zstd("attr_values", "Array(String)")
	c.zstd("res_keys", "Array(String)")
	c.zstd("res_types", "Array(UInt8)")
	c.zstd("res_values", "Array(String)")
	c.zstd("event_names", "Array(String)")
	c.zstd("event_times", "Array(Int64)")
	c.zstd("event_attr_keys", "Array(Array(String))")
	c.zstd("event_attr_types", "Array(Array(UInt8))")
	c.zstd("event_attr_values", "Array(Array(String))")
	c.zstd("link_trace_ids", "Array(FixedString(16))")
	c.zstd("link_span_ids", "Array(FixedString(8))")
	c.zstd("link_trace_states", "Array(String)")
	c.zstd("link_attr_keys", "Array(Array(String))")
	c.zstd("link_attr_types", "Array(Array(UInt8))")
	c.zstd("link_attr_values", "Array(Array(String))")
	c.index("attr_values_bf attr_values TYPE bloom_filter(0.01) GRANULARITY 4")
	c.index("res_values_bf res_values TYPE bloom_filter(0.01) GRANULARITY 4")
	c.index("duration_mm duration_ns TYPE minmax GRANULARITY 4")
	return table("spans", c, "ReplacingMergeTree", "project, service, start_ns, trace_id, span_id")
}

// traceIndexTable finds a trace by ID without scanning: one small row per
// span, sorted by trace ID. Trace reads it for the days, services and start
// times to read from spans; FindTraces reads it to sum up the traces found.
func traceIndexTable(f features) string {
	c := &colSet{f: f}
	c.lc("project")
	c.add("day", "Date")
	c.add("trace_id", "FixedString(16)")
	c.add("span_id", "FixedString(8)")
	c.add("parent_span_id", "FixedString(8)")
	c.lc("service")
	c.lc("name")
	c.add("start_ns", "Int64")
	c.add("end_ns", "Int64")
	c.add("status_code", "UInt8")
	return table("trace_index", c, "ReplacingMergeTree", "project, trace_id, span_id")
}

// operationsTable lists each day's service and operation names, so that
// listing them reads a few rows rather than the spans.
func operationsTable(f features) string {
	c := &colSet{f: f}
	c.lc("project")
	c.add("day", "Date")
	c.lc("service")
	c.lc("name")
	c.add("kind", "UInt8")
	c.add("first_ns", "Int64")
	return table("operations", c, "ReplacingMergeTree", "project, service, name, kind")
}

// snapshotsTable holds snapshots, filed by the day and time their ID holds
// (protocol.NewRecordID), so that a snapshot is found by ID with the
// primary key, and a retried upload has the sorting key of the first.
func snapshotsTable(f features) string {
	c := &colSet{f: f}
	c.lc("project")
	c.add("day", "Date")
	c.add("at", "Int64")
	c.add("id", "String")
	c.add("breakpoint_id", "String")
	c.lc("service")
	c.lc("environment")
	c.add("trace_id", "String")
	c.zstd("body", "String")
	return table("snapshots", c, "ReplacingMergeTree", "project, at, id")
}

func logsTable(f features) string {
	c := &colSet{f: f}
	c.lc("project")
	c.add("day", "Date")
	c.add("at", "Int64")
	c.add("id", "String")
	c.add("breakpoint_id", "String")
	c.lc("service")
	c.add("message", "String")
	c.zstd("body", "String")
	return table("logs", c, "ReplacingMergeTree", "project, at, id")
}

const migrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version UInt32,
  description String,
  applied_at DateTime
) ENGINE = MergeTree ORDER BY version`

// migrate brings the schema to the latest version and returns how many
// migrations it applied.
func (s *Store) migrate(ctx context.Context) (int, error) {
	if err := s.ddl(ctx, migrationsTable); err != nil {
		return 0, err
	}
	current, err := s.schemaVersion(ctx)
	if err != nil {
		return 0, err
	}
	latest := migrations[len(migrations)-1].version
	if current > latest {
		return 0, fmt.Errorf("the database is at schema version %d, newer than this TraceKit knows (%d): upgrade TraceKit", current, latest)
	}
	applied := 0
	for _, m := range migrations {
		if m.version <= current {
			continue
		}
		for _, stmt := range m.statements(s.feat) {
			if err := s.ddl(ctx, stmt); err != nil {
				return applied, fmt.Errorf("migration %d (%s): %w", m.version, m.description, err)
			}
		}
		var w rowWriter
		w.u32(m.version)
		w.str(m.description)
		w.u32(uint32(s.cfg.Now().Unix()))
		if err := s.c.insert(ctx, "schema_migrations", "version, description, applied_at", w.b); err != nil {
			return applied, fmt.Errorf("record migration %d: %w", m.version, err)
		}
		s.cfg.Logger.Info("clickhouse schema migrated", "version", m.version, "description", m.description)
		applied++
	}
	return applied, nil
}

// ddl runs a CREATE ... IF NOT EXISTS; a concurrent creator that won the
// race is success.
func (s *Store) ddl(ctx context.Context, stmt string) error {
	if err := s.c.exec(ctx, stmt); err != nil && !isCode(err, codeTableAlreadyExists) {
		return err
	}
	return nil
}

// schemaVersion is the highest migration applied (0 for a new database).
func (s *Store) schemaVersion(ctx context.Context) (uint32, error) {
	var v uint32
	err := s.c.query(ctx, "SELECT max(version) FROM schema_migrations", func(r *rowReader) error {
		v = r.u32()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// ttlDays is how many days after its day a partition may go: one more than
// the retention, so that TTL never drops a span younger than the cutoff.
func ttlDays(retention time.Duration) int {
	return int(math.Ceil(float64(retention)/float64(day))) + 1
}

// applyTTL makes servers that have TTL drop expired span partitions by
// themselves, as a backstop to DeleteSpansBefore. Snapshots follow the same
// retention. Existing parts are not rewritten (materialize_ttl_after_modify
// off): retention drops them by partition anyway.
func (s *Store) applyTTL(ctx context.Context) error {
	if !s.feat.ttl {
		return nil
	}
	n := ttlDays(s.cfg.Retention)
	for _, t := range append(append([]string{}, spanTables...), recordTables...) {
		stmt := fmt.Sprintf("ALTER TABLE %s MODIFY TTL day + toIntervalDay(%d)", t, n)
		if err := s.c.do(ctx, map[string][]string{"materialize_ttl_after_modify": {"0"}}, strings.NewReader(stmt), nil); err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
	}
	return nil
}
