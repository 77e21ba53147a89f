package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tracekit-oss/tracekit/internal/store"
)

// PutBreakpoint creates or replaces a breakpoint in one statement. The
// replacing update sets every column but the hit counters, so hits that
// AdmitHits counts meanwhile, through any server, are kept.
func (s *Store) PutBreakpoint(ctx context.Context, b store.Breakpoint) error {
	if b.ID == "" || b.Project == "" {
		return errors.New("put breakpoint: id and project are required")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO breakpoints (project, id, service, type, file, line, capture_point, condition,
			message, capture_depth, rate_limit, max_string_length, environment, expires_at, paused, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
		ON CONFLICT (project, id) DO UPDATE SET service = EXCLUDED.service, type = EXCLUDED.type, file = EXCLUDED.file,
			line = EXCLUDED.line, capture_point = EXCLUDED.capture_point, condition = EXCLUDED.condition,
			message = EXCLUDED.message, capture_depth = EXCLUDED.capture_depth, rate_limit = EXCLUDED.rate_limit,
			max_string_length = EXCLUDED.max_string_length, environment = EXCLUDED.environment,
			expires_at = EXCLUDED.expires_at, paused = EXCLUDED.paused, created_at = EXCLUDED.created_at,
			updated_at = EXCLUDED.updated_at`,
		b.Project, b.ID, b.Service, string(b.Type), b.File, b.Line, b.CapturePoint, b.Condition,
		b.Message, b.CaptureDepth, b.RateLimit, b.MaxStringLength, b.Environment, b.ExpiresAt, b.Paused, b.CreatedAt, b.UpdatedAt)
	if err != nil {
		return fmt.Errorf("put breakpoint %s: %w", b.ID, err)
	}
	return nil
}

const breakpointColumns = `project, id, service, type, file, line, capture_point, condition, message, capture_depth,
	rate_limit, max_string_length, environment, expires_at, paused, created_at, updated_at, hits, last_hit_at`

func scanBreakpoint(r pgx.Row) (store.Breakpoint, error) {
	var b store.Breakpoint
	var typ string
	err := r.Scan(&b.Project, &b.ID, &b.Service, &typ, &b.File, &b.Line, &b.CapturePoint, &b.Condition, &b.Message,
		&b.CaptureDepth, &b.RateLimit, &b.MaxStringLength, &b.Environment, &b.ExpiresAt, &b.Paused, &b.CreatedAt,
		&b.UpdatedAt, &b.Hits, &b.LastHitAt)
	b.Type = store.BreakpointType(typ)
	return b, err
}

// Breakpoint reads one breakpoint.
func (s *Store) Breakpoint(ctx context.Context, project, id string) (store.Breakpoint, error) {
	b, err := scanBreakpoint(s.pool.QueryRow(ctx, `SELECT `+breakpointColumns+` FROM breakpoints WHERE project = $1 AND id = $2`,
		project, id))
	if err != nil {
		return store.Breakpoint{}, fmt.Errorf("read breakpoint %s: %w", id, notFound(err))
	}
	return b, nil
}

// ListBreakpoints lists a project's breakpoints, of one service unless
// service is empty, oldest first.
func (s *Store) ListBreakpoints(ctx context.Context, project, service string) ([]store.Breakpoint, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+breakpointColumns+` FROM breakpoints
		WHERE project = $1 AND ($2 = '' OR service = $2) ORDER BY created_at, id`, project, service)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Breakpoint, error) { return scanBreakpoint(r) })
	if err != nil {
		return nil, fmt.Errorf("list breakpoints: %w", err)
	}
	return out, nil
}

// DeleteBreakpoint removes a breakpoint and its rate-limit window; its
// snapshots stay until retention.
func (s *Store) DeleteBreakpoint(ctx context.Context, project, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM breakpoints WHERE project = $1 AND id = $2`, project, id)
	if err != nil {
		return fmt.Errorf("delete breakpoint %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("delete breakpoint %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// admitLimited admits hits within a per-minute limit, in one statement:
// it locks the breakpoint row (so calls from every server take turns, and
// a concurrent DeleteBreakpoint locks in the same order), moves the
// breakpoint's window forward to the hit's minute or adds to it, and adds
// what it admitted to the counters. A hit from a minute older than the
// window's (another server's clock a little behind) counts against the
// window: the limit is never exceeded.
const admitLimited = `WITH bp AS (
		SELECT project, id FROM breakpoints WHERE project = $1 AND id = $2 FOR NO KEY UPDATE
	), win AS (
		INSERT INTO hit_windows AS w (project, breakpoint_id, minute, count, admitted)
		SELECT project, id, $3, LEAST($4::bigint, $5::bigint), LEAST($4::bigint, $5::bigint) FROM bp
		ON CONFLICT (project, breakpoint_id) DO UPDATE SET
			minute = GREATEST(w.minute, EXCLUDED.minute),
			count = CASE WHEN EXCLUDED.minute > w.minute THEN EXCLUDED.count
				ELSE GREATEST(w.count, LEAST(w.count + $4::bigint, $5::bigint)) END,
			admitted = CASE WHEN EXCLUDED.minute > w.minute THEN EXCLUDED.count
				ELSE GREATEST(w.count, LEAST(w.count + $4::bigint, $5::bigint)) - w.count END
		RETURNING admitted
	), hit AS (
		UPDATE breakpoints b SET hits = b.hits + win.admitted, last_hit_at = GREATEST(b.last_hit_at, $6)
		FROM win WHERE b.project = $1 AND b.id = $2 AND win.admitted > 0
	)
	SELECT admitted FROM win`

// AdmitHits admits up to n hits within the breakpoint's per-minute limit,
// which every server on this database shares, and counts them.
func (s *Store) AdmitHits(ctx context.Context, project, id string, n int64, perMinute int, at time.Time) (int64, error) {
	if n <= 0 {
		return 0, nil
	}
	if perMinute <= 0 {
		tag, err := s.pool.Exec(ctx, `UPDATE breakpoints SET hits = hits + $3, last_hit_at = GREATEST(last_hit_at, $4)
			WHERE project = $1 AND id = $2`, project, id, n, at)
		if err != nil {
			return 0, fmt.Errorf("admit hits of breakpoint %s: %w", id, err)
		}
		if tag.RowsAffected() == 0 {
			return 0, fmt.Errorf("admit hits of breakpoint %s: %w", id, store.ErrNotFound)
		}
		return n, nil
	}
	var admitted int64
	minute := at.UTC().Truncate(time.Minute)
	err := s.pool.QueryRow(ctx, admitLimited, project, id, minute, n, perMinute, at).Scan(&admitted)
	if err != nil {
		return 0, fmt.Errorf("admit hits of breakpoint %s: %w", id, notFound(err))
	}
	return admitted, nil
}

// SetKillSwitch stores a service's kill switch.
func (s *Store) SetKillSwitch(ctx context.Context, project string, ks store.KillSwitch) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO kill_switches (project, service, enabled, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (project, service) DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = EXCLUDED.updated_at`,
		project, ks.Service, ks.Enabled, ks.UpdatedAt)
	if err != nil {
		return fmt.Errorf("set kill switch of %s: %w", ks.Service, err)
	}
	return nil
}

// KillSwitch reads a service's kill switch; never set means off.
func (s *Store) KillSwitch(ctx context.Context, project, service string) (store.KillSwitch, error) {
	ks := store.KillSwitch{Service: service}
	err := s.pool.QueryRow(ctx, `SELECT enabled, updated_at FROM kill_switches WHERE project = $1 AND service = $2`,
		project, service).Scan(&ks.Enabled, &ks.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return ks, nil
	}
	if err != nil {
		return ks, fmt.Errorf("read kill switch of %s: %w", service, err)
	}
	return ks, nil
}

// PutCapturePoints records capture points in one transaction, keeping the
// FirstSeen of known ones. Points are written in key order, so that servers
// recording overlapping sets at once lock rows in the same order and never
// deadlock.
func (s *Store) PutCapturePoints(ctx context.Context, project string, points []store.CapturePoint) error {
	if len(points) == 0 {
		return nil
	}
	sorted := slices.Clone(points)
	slices.SortStableFunc(sorted, func(a, b store.CapturePoint) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Name, b.Name), cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line))
	})
	var batch pgx.Batch
	for _, cp := range sorted {
		batch.Queue(`INSERT INTO capture_points (project, service, name, file, line, function, first_seen, last_seen)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (project, service, name, file, line) DO UPDATE SET function = EXCLUDED.function,
				last_seen = EXCLUDED.last_seen`,
			project, cp.Service, cp.Name, cp.File, cp.Line, cp.Function, cp.FirstSeen, cp.LastSeen)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, &batch).Close() })
	if err != nil {
		return fmt.Errorf("put %d capture points: %w", len(points), err)
	}
	return nil
}

// ListCapturePoints lists a service's capture points by name, file, line.
func (s *Store) ListCapturePoints(ctx context.Context, project, service string) ([]store.CapturePoint, error) {
	rows, _ := s.pool.Query(ctx, `SELECT service, name, file, line, function, first_seen, last_seen FROM capture_points
		WHERE project = $1 AND service = $2 ORDER BY name, file, line`, project, service)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.CapturePoint, error) {
		var cp store.CapturePoint
		err := r.Scan(&cp.Service, &cp.Name, &cp.File, &cp.Line, &cp.Function, &cp.FirstSeen, &cp.LastSeen)
		return cp, err
	})
	if err != nil {
		return nil, fmt.Errorf("list capture points of %s: %w", service, err)
	}
	return out, nil
}
