package clickhouse

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/sdk/go/protocol"
)

// Snapshots and log lines are filed by the time their ID holds
// (protocol.NewRecordID), on its day unless that lies outside what
// retention keeps (then the day they arrived, as spans): the same ID,
// uploaded again, has the same sorting key, and reads fold the copies (LIMIT 1 BY id). The whole
// record is kept as JSON in body, next to the columns searches filter on.

const (
	snapshotColumns = "project, day, at, id, breakpoint_id, service, environment, trace_id, body"
	logColumns      = "project, day, at, id, breakpoint_id, service, message, body"
)

// recordTime returns the time an ID holds, assigning an ID at t when id is
// empty.
func recordTime(id *string, t time.Time) (int64, error) {
	if *id == "" {
		*id = protocol.NewRecordID(t)
	}
	at, ok := protocol.RecordIDTime(*id)
	if !ok {
		return 0, fmt.Errorf("record id %q is malformed: want 24 lowercase hex digits (protocol.NewRecordID)", *id)
	}
	return at.UnixNano(), nil
}

// WriteSnapshots appends snapshots in one INSERT.
func (s *Store) WriteSnapshots(ctx context.Context, project string, snaps []store.Snapshot) error {
	if len(snaps) == 0 {
		return nil
	}
	if err := s.check(project); err != nil {
		return err
	}
	now := s.cfg.Now()
	var w rowWriter
	for i := range snaps {
		sn := &snaps[i]
		at, err := recordTime(&sn.ID, sn.Time)
		if err != nil {
			return err
		}
		sn.Project = project
		body, err := json.Marshal(sn)
		if err != nil {
			return fmt.Errorf("encode snapshot %s: %w", sn.ID, err)
		}
		w.str(project)
		w.u16(s.partition(at, now))
		w.i64(at)
		w.str(sn.ID)
		w.str(sn.BreakpointID)
		w.str(sn.Service)
		w.str(sn.Environment)
		w.str(sn.TraceID)
		w.str(string(body))
	}
	if err := s.c.insert(ctx, "snapshots", snapshotColumns, w.b); err != nil {
		return fmt.Errorf("write %d snapshots: %w", len(snaps), err)
	}
	return nil
}

// WriteLogs appends log lines in one INSERT.
func (s *Store) WriteLogs(ctx context.Context, project string, lines []store.LogLine) error {
	if len(lines) == 0 {
		return nil
	}
	if err := s.check(project); err != nil {
		return err
	}
	now := s.cfg.Now()
	var w rowWriter
	for i := range lines {
		l := &lines[i]
		at, err := recordTime(&l.ID, l.Time)
		if err != nil {
			return err
		}
		l.Project = project
		body, err := json.Marshal(l)
		if err != nil {
			return fmt.Errorf("encode log line %s: %w", l.ID, err)
		}
		w.str(project)
		w.u16(s.partition(at, now))
		w.i64(at)
		w.str(l.ID)
		w.str(l.BreakpointID)
		w.str(l.Service)
		w.str(l.Message)
		w.str(string(body))
	}
	if err := s.c.insert(ctx, "logs", logColumns, w.b); err != nil {
		return fmt.Errorf("write %d log lines: %w", len(lines), err)
	}
	return nil
}

// Snapshot reads one snapshot by the primary key its ID gives.
func (s *Store) Snapshot(ctx context.Context, project, id string) (store.Snapshot, error) {
	var sn store.Snapshot
	if err := s.check(project); err != nil {
		return sn, err
	}
	t, ok := protocol.RecordIDTime(id)
	if !ok {
		return sn, fmt.Errorf("read snapshot %q: %w", id, store.ErrNotFound)
	}
	at := t.UnixNano()
	// No condition on day: a record whose ID holds a time outside what
	// retention keeps was filed under the day it arrived.
	sql := fmt.Sprintf("SELECT body FROM snapshots WHERE project = %s AND at = %d AND id = %s LIMIT 1",
		quote(project), at, quote(id))
	var body string
	err := s.c.query(ctx, sql, func(r *rowReader) error {
		body = r.str()
		return nil
	})
	if err != nil {
		return sn, fmt.Errorf("read snapshot %s: %w", id, err)
	}
	if body == "" {
		return sn, fmt.Errorf("read snapshot %s: %w", id, store.ErrNotFound)
	}
	if err := json.Unmarshal([]byte(body), &sn); err != nil {
		return sn, fmt.Errorf("decode snapshot %s: %w", id, err)
	}
	return sn, nil
}

func recordLimit(n int) int {
	if n <= 0 {
		return 50
	}
	return min(n, store.MaxLimit)
}

// recordWindow is the condition on day and ID time for [start, end]; zero
// bounds mean the retention window up to an hour from now.
func (s *Store) recordWindow(project string, start, end time.Time) []string {
	if end.IsZero() {
		end = s.cfg.Now().Add(time.Hour)
	}
	if start.IsZero() {
		start = end.Add(-s.cfg.Retention - 2*day)
	}
	lo, hi := start.UnixNano(), end.UnixNano()
	return []string{
		"project = " + quote(project),
		fmt.Sprintf("day BETWEEN %s AND %s", dateLiteral(dayNumber(lo)), dateLiteral(dayNumber(hi))),
		fmt.Sprintf("at BETWEEN %d AND %d", lo, hi),
	}
}

// FindSnapshots lists matching snapshots, newest first.
func (s *Store) FindSnapshots(ctx context.Context, project string, q store.SnapshotQuery) ([]store.Snapshot, error) {
	if err := s.check(project); err != nil {
		return nil, err
	}
	conds := s.recordWindow(project, q.Start, q.End)
	if q.BreakpointID != "" {
		conds = append(conds, "breakpoint_id = "+quote(q.BreakpointID))
	}
	if q.Service != "" {
		conds = append(conds, "service = "+quote(q.Service))
	}
	if q.Environment != "" {
		conds = append(conds, "environment = "+quote(q.Environment))
	}
	if q.TraceID != "" {
		conds = append(conds, "lower(trace_id) = lower("+quote(q.TraceID)+")")
	}
	sql := fmt.Sprintf("SELECT body FROM snapshots WHERE %s ORDER BY at DESC, id DESC LIMIT 1 BY id LIMIT %d",
		strings.Join(conds, " AND "), recordLimit(q.Limit))
	var out []store.Snapshot
	err := s.c.query(ctx, sql, func(r *rowReader) error {
		var sn store.Snapshot
		if err := json.Unmarshal([]byte(r.str()), &sn); err != nil {
			return fmt.Errorf("decode snapshot: %w", err)
		}
		out = append(out, sn)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find snapshots: %w", err)
	}
	return out, nil
}

// FindLogs lists matching log lines, newest first; Text matches anywhere in
// the message, ignoring case.
func (s *Store) FindLogs(ctx context.Context, project string, q store.LogQuery) ([]store.LogLine, error) {
	if err := s.check(project); err != nil {
		return nil, err
	}
	conds := s.recordWindow(project, q.Start, q.End)
	if q.BreakpointID != "" {
		conds = append(conds, "breakpoint_id = "+quote(q.BreakpointID))
	}
	if q.Service != "" {
		conds = append(conds, "service = "+quote(q.Service))
	}
	if q.Text != "" {
		conds = append(conds, "positionCaseInsensitiveUTF8(message, "+quote(q.Text)+") > 0")
	}
	sql := fmt.Sprintf("SELECT body FROM logs WHERE %s ORDER BY at DESC, id DESC LIMIT 1 BY id LIMIT %d",
		strings.Join(conds, " AND "), recordLimit(q.Limit))
	var out []store.LogLine
	err := s.c.query(ctx, sql, func(r *rowReader) error {
		var l store.LogLine
		if err := json.Unmarshal([]byte(r.str()), &l); err != nil {
			return fmt.Errorf("decode log line: %w", err)
		}
		out = append(out, l)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find log lines: %w", err)
	}
	return out, nil
}
