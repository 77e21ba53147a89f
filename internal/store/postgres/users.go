package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tracekit-oss/tracekit/internal/store"
)

var (
	_ store.UserStore     = (*Store)(nil)
	_ store.SessionStore  = (*Store)(nil)
	_ store.SettingsStore = (*Store)(nil)
)

// emailKey is the form of a sign-in name that users.email_key holds and
// lookups compare: trimmed and lower-cased, as on the embedded store.
func emailKey(email string) string { return store.EmailKey(email) }

// CreateUser stores a new user; its ID and its email are unique.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	if u.ID == "" || strings.TrimSpace(u.Email) == "" {
		return errors.New("create user: id and email are required")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO users (id, email, email_key, password_hash, admin, projects, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		u.ID, u.Email, emailKey(u.Email), u.PasswordHash, u.Admin, memberships(u.Projects), u.CreatedAt)
	if err != nil {
		return fmt.Errorf("create user %s: %w", u.Email, conflict(err))
	}
	return nil
}

// memberships is never nil: the column is NOT NULL.
func memberships(p []string) []string {
	if p == nil {
		return []string{}
	}
	return p
}

const userColumns = `id, email, password_hash, admin, projects, created_at`

func scanUser(r pgx.Row) (store.User, error) {
	var u store.User
	err := r.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Admin, &u.Projects, &u.CreatedAt)
	return u, err
}

// User reads one user by ID.
func (s *Store) User(ctx context.Context, id string) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
	if err != nil {
		return store.User{}, fmt.Errorf("read user %s: %w", id, notFound(err))
	}
	return u, nil
}

// UserByEmail finds a user by sign-in name, case-insensitively.
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE email_key = $1`, emailKey(email)))
	if err != nil {
		return store.User{}, fmt.Errorf("user %s: %w", email, notFound(err))
	}
	return u, nil
}

// ListUsers returns every user, oldest first.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users ORDER BY created_at, id`)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.User, error) { return scanUser(r) })
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// UpdateUser replaces a user's password, memberships and admin flag; its
// email cannot change (but for case and spaces, as on the embedded store).
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	tag, err := s.pool.Exec(ctx, `UPDATE users SET email = $3, password_hash = $4, admin = $5, projects = $6, created_at = $7
		WHERE id = $1 AND email_key = $2`,
		u.ID, emailKey(u.Email), u.Email, u.PasswordHash, u.Admin, memberships(u.Projects), u.CreatedAt)
	if err != nil {
		return fmt.Errorf("update user %s: %w", u.ID, err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	if _, err := s.User(ctx, u.ID); err != nil {
		return fmt.Errorf("update user: %w", err)
	}
	return fmt.Errorf("update user %s: the email cannot change", u.ID)
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, se store.Session) error {
	if se.Hash == "" || se.UserID == "" {
		return errors.New("create session: hash and user are required")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (hash, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		se.Hash, se.UserID, se.CSRF, se.CreatedAt, se.ExpiresAt)
	if err != nil {
		return fmt.Errorf("create session: %w", conflict(err))
	}
	return nil
}

// Session reads a session by the hash of its token, expired or not.
func (s *Store) Session(ctx context.Context, hash string) (store.Session, error) {
	se := store.Session{Hash: hash}
	err := s.pool.QueryRow(ctx, `SELECT user_id, csrf, created_at, expires_at FROM sessions WHERE hash = $1`, hash).
		Scan(&se.UserID, &se.CSRF, &se.CreatedAt, &se.ExpiresAt)
	if err != nil {
		return store.Session{}, fmt.Errorf("read session: %w", notFound(err))
	}
	return se, nil
}

// DeleteSession removes a session; a missing one is no error.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteSessionsBefore removes the sessions that expire before cutoff.
func (s *Store) DeleteSessionsBefore(ctx context.Context, cutoff time.Time) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at < $1`, cutoff); err != nil {
		return fmt.Errorf("delete expired sessions: %w", err)
	}
	return nil
}

// Settings reads the settings; zero when never stored.
func (s *Store) Settings(ctx context.Context) (store.Settings, error) {
	var st store.Settings
	var trace, snap int64
	err := s.pool.QueryRow(ctx, `SELECT trace_retention_ns, snapshot_retention_ns, updated_at FROM settings`).
		Scan(&trace, &snap, &st.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Settings{}, nil
	}
	if err != nil {
		return store.Settings{}, fmt.Errorf("read settings: %w", err)
	}
	st.TraceRetention, st.SnapshotRetention = time.Duration(trace), time.Duration(snap)
	return st, nil
}

// PutSettings replaces the settings.
func (s *Store) PutSettings(ctx context.Context, st store.Settings) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO settings (trace_retention_ns, snapshot_retention_ns, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (singleton) DO UPDATE SET trace_retention_ns = EXCLUDED.trace_retention_ns,
			snapshot_retention_ns = EXCLUDED.snapshot_retention_ns, updated_at = EXCLUDED.updated_at`,
		int64(st.TraceRetention), int64(st.SnapshotRetention), st.UpdatedAt)
	if err != nil {
		return fmt.Errorf("store settings: %w", err)
	}
	return nil
}
