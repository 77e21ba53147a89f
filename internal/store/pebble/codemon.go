package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/sdk/go/protocol"
)

// Code monitoring records. Breakpoints, kill switches and capture points are
// metadata (M prefix, JSON). Snapshots and log lines are appended under
// N and L, keyed by day, project and time, so they list newest first and
// retention drops whole days:
//
//	N day project unixNano rand4   snapshot (JSON)
//	L day project unixNano rand4   log line (JSON)
const (
	kindSnapshot = 'N'
	kindLog      = 'L'
)

// PutBreakpoint creates or replaces a breakpoint.
func (s *Store) PutBreakpoint(ctx context.Context, b store.Breakpoint) error {
	if b.ID == "" || b.Project == "" {
		return errors.New("put breakpoint: id and project are required")
	}
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	// The hit counters are the store's: keep what AdmitHits counted.
	var old store.Breakpoint
	switch err := s.getJSON(metaKey("bp", b.Project, b.ID), &old); {
	case err == nil:
		b.Hits, b.LastHitAt = old.Hits, old.LastHitAt
	case errors.Is(err, store.ErrNotFound):
		b.Hits, b.LastHitAt = 0, nil
	default:
		return fmt.Errorf("put breakpoint %s: %w", b.ID, err)
	}
	return s.putBreakpoint(b)
}

// putBreakpoint writes b; s.metaMu is held.
func (s *Store) putBreakpoint(b store.Breakpoint) error {
	v, _ := json.Marshal(b)
	if err := s.set(metaKey("bp", b.Project, b.ID), v, pdb.Sync); err != nil {
		return fmt.Errorf("put breakpoint %s: %w", b.ID, err)
	}
	return nil
}

// Breakpoint reads one breakpoint.
func (s *Store) Breakpoint(ctx context.Context, project, id string) (store.Breakpoint, error) {
	var b store.Breakpoint
	if err := s.getJSON(metaKey("bp", project, id), &b); err != nil {
		return b, fmt.Errorf("read breakpoint %s: %w", id, err)
	}
	return b, nil
}

// ListBreakpoints lists breakpoints, oldest first.
func (s *Store) ListBreakpoints(ctx context.Context, project, service string) ([]store.Breakpoint, error) {
	var out []store.Breakpoint
	err := s.scan(ctx, append(metaKey("bp", project), 0), func(_, v []byte) error {
		var b store.Breakpoint
		if err := json.Unmarshal(v, &b); err != nil {
			return err
		}
		if service == "" || b.Service == service {
			out = append(out, b)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list breakpoints: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// DeleteBreakpoint removes a breakpoint; its snapshots stay until retention.
func (s *Store) DeleteBreakpoint(ctx context.Context, project, id string) error {
	key := metaKey("bp", project, id)
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	ok, err := s.exists(key)
	if err != nil {
		return fmt.Errorf("delete breakpoint %s: %w", id, err)
	}
	if !ok {
		return fmt.Errorf("delete breakpoint %s: %w", id, store.ErrNotFound)
	}
	delete(s.hitWindows, project+"\x00"+id)
	if err := s.delete(key, pdb.Sync); err != nil {
		return fmt.Errorf("delete breakpoint %s: %w", id, err)
	}
	return nil
}

// AdmitHits admits hits within the breakpoint's per-minute limit. One
// server owns an embedded store, so the minute's count lives in memory.
func (s *Store) AdmitHits(ctx context.Context, project, id string, n int64, perMinute int, at time.Time) (int64, error) {
	if n <= 0 {
		return 0, nil
	}
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	var b store.Breakpoint
	if err := s.getJSON(metaKey("bp", project, id), &b); err != nil {
		return 0, fmt.Errorf("admit hits of breakpoint %s: %w", id, err)
	}
	admitted := n
	if perMinute > 0 {
		minute := at.UTC().Truncate(time.Minute)
		w := s.hitWindows[project+"\x00"+id]
		if !w.minute.Equal(minute) {
			w = hitWindow{minute: minute}
		}
		admitted = min(n, max(int64(perMinute)-w.count, 0))
		w.count += admitted
		if s.hitWindows == nil {
			s.hitWindows = map[string]hitWindow{}
		}
		s.hitWindows[project+"\x00"+id] = w
	}
	if admitted == 0 {
		return 0, nil
	}
	b.Hits += admitted
	if b.LastHitAt == nil || at.After(*b.LastHitAt) {
		t := at.UTC()
		b.LastHitAt = &t
	}
	return admitted, s.putBreakpoint(b)
}

// hitWindow is a breakpoint's count of admitted hits in one minute.
type hitWindow struct {
	minute time.Time
	count  int64
}

// SetKillSwitch stores a service's kill switch.
func (s *Store) SetKillSwitch(ctx context.Context, project string, ks store.KillSwitch) error {
	v, _ := json.Marshal(ks)
	if err := s.set(metaKey("kill", project, ks.Service), v, pdb.Sync); err != nil {
		return fmt.Errorf("set kill switch of %s: %w", ks.Service, err)
	}
	return nil
}

// KillSwitch reads a service's kill switch; never set means off.
func (s *Store) KillSwitch(ctx context.Context, project, service string) (store.KillSwitch, error) {
	ks := store.KillSwitch{Service: service}
	err := s.getJSON(metaKey("kill", project, service), &ks)
	if errors.Is(err, store.ErrNotFound) {
		return ks, nil
	}
	if err != nil {
		return ks, fmt.Errorf("read kill switch of %s: %w", service, err)
	}
	return ks, nil
}

func capturePointKey(project string, cp *store.CapturePoint) []byte {
	return metaKey("cp", project, cp.Service, cp.Name, cp.File, strconv.Itoa(cp.Line))
}

// PutCapturePoints records capture points.
func (s *Store) PutCapturePoints(ctx context.Context, project string, points []store.CapturePoint) error {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	b := s.db.NewBatch()
	defer b.Close()
	for i := range points {
		cp := points[i]
		key := capturePointKey(project, &cp)
		var old store.CapturePoint
		if err := s.getJSON(key, &old); err == nil {
			cp.FirstSeen = old.FirstSeen
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("put capture point %s: %w", cp.Name, err)
		}
		v, _ := json.Marshal(cp)
		_ = b.Set(key, v, nil)
	}
	if err := s.commit(b, pdb.NoSync); err != nil {
		return fmt.Errorf("put capture points: %w", err)
	}
	return nil
}

// ListCapturePoints lists a service's capture points by name, file, line.
func (s *Store) ListCapturePoints(ctx context.Context, project, service string) ([]store.CapturePoint, error) {
	var out []store.CapturePoint
	err := s.scan(ctx, append(metaKey("cp", project, service), 0), func(_, v []byte) error {
		var cp store.CapturePoint
		if err := json.Unmarshal(v, &cp); err != nil {
			return err
		}
		out = append(out, cp)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list capture points of %s: %w", service, err)
	}
	return out, nil
}

// recordKey files a snapshot or log line by the day its ID holds
// (protocol.NewRecordID): a retried upload of the same ID writes the same
// key, so it is stored once.
func recordKey(kind byte, project, id string) ([]byte, error) {
	t, ok := protocol.RecordIDTime(id)
	if !ok {
		return nil, store.ErrNotFound
	}
	raw, _ := hex.DecodeString(id)
	ns := t.UnixNano()
	k := []byte{kind}
	k = binary.BigEndian.AppendUint32(k, dayOf(ns))
	k = appendName(k, project)
	return append(k, raw...), nil
}

func (s *Store) appendRecords(project string, kind byte, n int, rec func(i int) (id *string, t time.Time, v func() []byte)) error {
	if err := checkName("project", project); err != nil {
		return err
	}
	b := s.db.NewBatch()
	defer b.Close()
	for i := 0; i < n; i++ {
		id, t, val := rec(i)
		if *id == "" {
			*id = protocol.NewRecordID(t)
		}
		key, err := recordKey(kind, project, *id)
		if err != nil {
			return fmt.Errorf("record id %q is malformed", *id)
		}
		_ = b.Set(key, val(), nil)
	}
	if err := s.commit(b, s.wo); err != nil {
		return fmt.Errorf("append %d records: %w", n, err)
	}
	return nil
}

// WriteSnapshots appends snapshots.
func (s *Store) WriteSnapshots(ctx context.Context, project string, snaps []store.Snapshot) error {
	return s.appendRecords(project, kindSnapshot, len(snaps), func(i int) (*string, time.Time, func() []byte) {
		sn := &snaps[i]
		sn.Project = project
		return &sn.ID, sn.Time, func() []byte { v, _ := json.Marshal(sn); return v }
	})
}

// WriteLogs appends logpoint lines.
func (s *Store) WriteLogs(ctx context.Context, project string, lines []store.LogLine) error {
	return s.appendRecords(project, kindLog, len(lines), func(i int) (*string, time.Time, func() []byte) {
		l := &lines[i]
		l.Project = project
		return &l.ID, l.Time, func() []byte { v, _ := json.Marshal(l); return v }
	})
}

// Snapshot reads one snapshot by ID.
func (s *Store) Snapshot(ctx context.Context, project, id string) (store.Snapshot, error) {
	var sn store.Snapshot
	key, err := recordKey(kindSnapshot, project, id)
	if err != nil {
		return sn, fmt.Errorf("read snapshot %s: %w", id, err)
	}
	if err := s.getJSON(key, &sn); err != nil {
		return sn, fmt.Errorf("read snapshot %s: %w", id, err)
	}
	return sn, nil
}

// scanRecords walks a project's records of one kind newest first within
// [start, end], calling fn until it returns false.
func (s *Store) scanRecords(ctx context.Context, kind byte, project string, start, end time.Time, fn func(v []byte) (bool, error)) error {
	if end.IsZero() {
		end = s.opts.Now().Add(time.Hour)
	}
	if start.IsZero() {
		start = end.Add(-s.opts.Retention - 2*day)
	}
	it, err := s.db.NewIterWithContext(ctx, &pdb.IterOptions{LowerBound: []byte{kind}, UpperBound: []byte{kind + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	lo, hi := start.UnixNano(), end.UnixNano()
	for d := int64(dayOf(hi)); d >= int64(dayOf(lo)) && d >= 0; d-- {
		prefix := appendName(binary.BigEndian.AppendUint32([]byte{kind}, uint32(d)), project)
		upper := binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), uint64(hi)+1)
		for ok := it.SeekLT(upper); ok && bytes.HasPrefix(it.Key(), prefix); ok = it.Prev() {
			k := it.Key()
			if len(k) != len(prefix)+12 {
				continue
			}
			if int64(binary.BigEndian.Uint64(k[len(prefix):])) < lo {
				break
			}
			v, err := it.ValueAndErr()
			if err != nil {
				return err
			}
			more, err := fn(v)
			if err != nil || !more {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return it.Error()
}

func recordLimit(n int) int {
	if n <= 0 {
		return 50
	}
	return min(n, store.MaxLimit)
}

// FindSnapshots lists matching snapshots, newest first.
func (s *Store) FindSnapshots(ctx context.Context, project string, q store.SnapshotQuery) ([]store.Snapshot, error) {
	limit := recordLimit(q.Limit)
	var out []store.Snapshot
	err := s.scanRecords(ctx, kindSnapshot, project, q.Start, q.End, func(v []byte) (bool, error) {
		var sn store.Snapshot
		if err := json.Unmarshal(v, &sn); err != nil {
			return false, err
		}
		if (q.BreakpointID == "" || sn.BreakpointID == q.BreakpointID) && (q.Service == "" || sn.Service == q.Service) &&
			(q.Environment == "" || sn.Environment == q.Environment) && (q.TraceID == "" || strings.EqualFold(sn.TraceID, q.TraceID)) {
			out = append(out, sn)
		}
		return len(out) < limit, nil
	})
	if err != nil {
		return nil, fmt.Errorf("find snapshots: %w", err)
	}
	return out, nil
}

// FindLogs lists matching log lines, newest first.
func (s *Store) FindLogs(ctx context.Context, project string, q store.LogQuery) ([]store.LogLine, error) {
	limit := recordLimit(q.Limit)
	text := strings.ToLower(q.Text)
	var out []store.LogLine
	err := s.scanRecords(ctx, kindLog, project, q.Start, q.End, func(v []byte) (bool, error) {
		var l store.LogLine
		if err := json.Unmarshal(v, &l); err != nil {
			return false, err
		}
		if (q.BreakpointID == "" || l.BreakpointID == q.BreakpointID) && (q.Service == "" || l.Service == q.Service) &&
			(text == "" || strings.Contains(strings.ToLower(l.Message), text)) {
			out = append(out, l)
		}
		return len(out) < limit, nil
	})
	if err != nil {
		return nil, fmt.Errorf("find log lines: %w", err)
	}
	return out, nil
}

// DeleteSnapshotsBefore drops snapshot and log days that end before cutoff.
func (s *Store) DeleteSnapshotsBefore(ctx context.Context, cutoff time.Time) error {
	last := dayOf(cutoff.UnixNano())
	for _, kind := range []byte{kindSnapshot, kindLog} {
		end := binary.BigEndian.AppendUint32([]byte{kind}, last)
		if err := s.deleteRange([]byte{kind}, end, pdb.Sync); err != nil {
			return fmt.Errorf("drop snapshot days before %d: %w", last, err)
		}
	}
	return nil
}
