package clickhouse

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// DeleteSpansBefore drops every day partition of the span tables that ends
// at or before cutoff: whole parts are unlinked, nothing is rewritten. The
// day holding the cutoff is kept, so nothing newer than it goes.
func (s *Store) DeleteSpansBefore(ctx context.Context, cutoff time.Time) error {
	if err := s.dropBefore(ctx, spanTables, cutoff); err != nil {
		return fmt.Errorf("drop span partitions before %s: %w", cutoff.UTC().Format(time.DateOnly), err)
	}
	return nil
}

// DeleteSnapshotsBefore drops the snapshot and log line days that end at or
// before cutoff.
func (s *Store) DeleteSnapshotsBefore(ctx context.Context, cutoff time.Time) error {
	if err := s.dropBefore(ctx, recordTables, cutoff); err != nil {
		return fmt.Errorf("drop snapshot partitions before %s: %w", cutoff.UTC().Format(time.DateOnly), err)
	}
	return nil
}

// partitionsBefore lists the partitions of tables whose day is before the
// day of cutoff, from system.parts.
func (s *Store) partitionsBefore(ctx context.Context, tables []string, cutoff time.Time) (map[string][]string, error) {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = quote(t)
	}
	sql := fmt.Sprintf("SELECT DISTINCT table, partition_id FROM system.parts WHERE database = %s AND table IN (%s) AND active AND max_date < %s",
		quote(s.c.database), strings.Join(names, ", "), dateLiteral(dayNumber(cutoff.UnixNano())))
	out := map[string][]string{}
	err := s.c.query(ctx, sql, func(r *rowReader) error {
		t, id := r.str(), r.str()
		out[t] = append(out[t], id)
		return nil
	})
	return out, err
}

func (s *Store) dropBefore(ctx context.Context, tables []string, cutoff time.Time) error {
	if s.closed.Load() {
		return errClosed
	}
	parts, err := s.partitionsBefore(ctx, tables, cutoff)
	if err != nil {
		return fmt.Errorf("list partitions: %w", err)
	}
	for _, t := range tables {
		for _, id := range parts[t] {
			if !isPartitionID(id) {
				return fmt.Errorf("table %s has partition %q, not a day: was it created by TraceKit?", t, id)
			}
			if err := s.c.exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP PARTITION ID '%s'", t, id)); err != nil {
				return fmt.Errorf("%s partition %s: %w", t, id, err)
			}
			s.cfg.Logger.Debug("clickhouse partition dropped", "table", t, "partition", id)
		}
	}
	return nil
}

// isPartitionID reports whether id is what PARTITION BY day names a
// partition: YYYYMMDD.
func isPartitionID(id string) bool {
	if len(id) != 8 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return false
		}
	}
	return true
}
