package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tracekit-oss/tracekit/internal/store"
)

// CreateProject stores a new project.
func (s *Store) CreateProject(ctx context.Context, p store.Project) error {
	if p.ID == "" {
		return errors.New("create project: id is required")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO projects (id, name, created_at) VALUES ($1, $2, $3)`, p.ID, p.Name, p.CreatedAt)
	if err != nil {
		return fmt.Errorf("create project %s: %w", p.ID, conflict(err))
	}
	return nil
}

// Project returns one project.
func (s *Store) Project(ctx context.Context, id string) (store.Project, error) {
	p := store.Project{ID: id}
	err := s.pool.QueryRow(ctx, `SELECT name, created_at FROM projects WHERE id = $1`, id).Scan(&p.Name, &p.CreatedAt)
	if err != nil {
		return store.Project{}, fmt.Errorf("read project %s: %w", id, notFound(err))
	}
	return p, nil
}

// ListProjects returns every project, by ID.
func (s *Store) ListProjects(ctx context.Context) ([]store.Project, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, name, created_at FROM projects ORDER BY id`)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Project, error) {
		var p store.Project
		err := r.Scan(&p.ID, &p.Name, &p.CreatedAt)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return out, nil
}

// CreateKey stores a new key; its ID is unique within its project, its
// hash across all.
func (s *Store) CreateKey(ctx context.Context, k store.APIKey) error {
	if k.ID == "" || k.Hash == "" || k.Project == "" {
		return errors.New("create key: id, hash and project are required")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO api_keys (project, id, name, scope, hash, prefix, created_at, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		k.Project, k.ID, k.Name, string(k.Scope), k.Hash, k.Prefix, k.CreatedAt, k.RevokedAt)
	if err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, conflict(err))
	}
	return nil
}

const keyColumns = `project, id, name, scope, hash, prefix, created_at, revoked_at`

func scanKey(r pgx.Row) (store.APIKey, error) {
	var k store.APIKey
	var scope string
	err := r.Scan(&k.Project, &k.ID, &k.Name, &scope, &k.Hash, &k.Prefix, &k.CreatedAt, &k.RevokedAt)
	k.Scope = store.Scope(scope)
	return k, err
}

// KeyByHash finds a key by the hash of its secret.
func (s *Store) KeyByHash(ctx context.Context, hash string) (store.APIKey, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = $1`, hash))
	if err != nil {
		return store.APIKey{}, fmt.Errorf("look up key: %w", notFound(err))
	}
	return k, nil
}

// ListKeys returns a project's keys, oldest first.
func (s *Store) ListKeys(ctx context.Context, project string) ([]store.APIKey, error) {
	rows, _ := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE project = $1 ORDER BY created_at, id`, project)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.APIKey, error) { return scanKey(r) })
	if err != nil {
		return nil, fmt.Errorf("list keys of %s: %w", project, err)
	}
	return out, nil
}

// RevokeKey marks a key revoked; revoking it again keeps the first time.
func (s *Store) RevokeKey(ctx context.Context, project, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $3) WHERE project = $1 AND id = $2`,
		project, id, at)
	if err != nil {
		return fmt.Errorf("revoke key %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("revoke key %s: %w", id, store.ErrNotFound)
	}
	return nil
}
