package store

import (
	"context"
	"time"
)

// Project groups everything a team sends: spans, and later breakpoints and
// snapshots. IDs are short slugs ("default").
type Project struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Scope says what an API key may do.
type Scope string

// The key scopes. An ingest key may only send telemetry and act as an SDK,
// so it is safe to embed in a browser page; an admin key may also read and
// manage.
const (
	ScopeIngest Scope = "ingest"
	ScopeAdmin  Scope = "admin"
)

// Valid reports whether s is a known scope.
func (s Scope) Valid() bool { return s == ScopeIngest || s == ScopeAdmin }

// APIKey is a stored key. The secret itself is never stored: only its
// SHA-256 hash, and a short prefix so that users can tell keys apart.
type APIKey struct {
	ID        string     `json:"id"`
	Project   string     `json:"project"`
	Name      string     `json:"name"`
	Scope     Scope      `json:"scope"`
	Hash      string     `json:"-"`
	Prefix    string     `json:"prefix"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Revoked reports whether the key has been revoked.
func (k *APIKey) Revoked() bool { return k.RevokedAt != nil }

// ProjectStore keeps projects.
type ProjectStore interface {
	// CreateProject fails with ErrConflict when the ID is taken.
	CreateProject(ctx context.Context, p Project) error
	// Project returns ErrNotFound for an unknown ID.
	Project(ctx context.Context, id string) (Project, error)
	ListProjects(ctx context.Context) ([]Project, error)
}

// KeyStore keeps API keys.
type KeyStore interface {
	// CreateKey fails with ErrConflict when the ID or hash is taken.
	CreateKey(ctx context.Context, k APIKey) error
	// KeyByHash returns the key, revoked or not, or ErrNotFound.
	KeyByHash(ctx context.Context, hash string) (APIKey, error)
	// ListKeys returns a project's keys, oldest first.
	ListKeys(ctx context.Context, project string) ([]APIKey, error)
	// RevokeKey marks a key revoked; ErrNotFound if the project has no such key.
	RevokeKey(ctx context.Context, project, id string, at time.Time) error
}

// TraceStore keeps what services send: spans, code-monitoring snapshots
// and logpoint lines. It is append-only and batched: nothing is updated in
// place, writes may be retried (a batch written twice is stored once), and
// retention drops whole time partitions. Backends: pebble (embedded) and
// clickhouse.
type TraceStore interface {
	SpanWriter
	TraceReader
	Retainer
	SnapshotStore
	// Close flushes and releases the backend.
	Close() error
}

// MetadataStore keeps what users and the server manage: projects, API keys,
// users and their sessions, settings, breakpoints, kill switches, capture
// points and hit counts. Its writes are transactional: unique IDs, keys and
// emails hold, and concurrent updates lose nothing. Backends: pebble
// (embedded) and postgres.
type MetadataStore interface {
	ProjectStore
	KeyStore
	UserStore
	SessionStore
	SettingsStore
	BreakpointStore
	// Close releases the backend.
	Close() error
}
