package store

import (
	"context"
	"slices"
	"strings"
	"time"
)

// User is a person who signs in to the dashboard. Users are not API keys:
// keys belong to one project and act for programs; a user belongs to the
// projects listed in Projects and sees only those.
type User struct {
	ID string `json:"id"`
	// Email is the sign-in name: an email address, or "admin" for the user
	// created at first start. Backends compare it case-insensitively.
	Email string `json:"email"`
	// PasswordHash is the bcrypt hash of the password; the password itself
	// is never stored.
	PasswordHash string `json:"passwordHash"`
	// Admin users may also change server-wide settings such as retention.
	Admin bool `json:"admin"`
	// Projects are the IDs of the projects the user is a member of.
	Projects  []string  `json:"projects"`
	CreatedAt time.Time `json:"createdAt"`
}

// MemberOf reports whether the user belongs to project.
func (u *User) MemberOf(project string) bool { return slices.Contains(u.Projects, project) }

// Session is a signed-in browser. The cookie carries a random token; only
// its SHA-256 hash is stored, so a copy of the store signs nobody in.
type Session struct {
	Hash   string `json:"hash"`
	UserID string `json:"userId"`
	// CSRF is the token every state-changing request of this session must
	// carry in a form field or header.
	CSRF      string    `json:"csrf"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// UserStore keeps dashboard users. It is optional: a backend without it
// serves the API but not the dashboard.
type UserStore interface {
	// CreateUser fails with ErrConflict when the ID or the email is taken.
	CreateUser(ctx context.Context, u User) error
	// User returns ErrNotFound for an unknown ID.
	User(ctx context.Context, id string) (User, error)
	// UserByEmail finds a user by sign-in name, case-insensitively, or
	// returns ErrNotFound.
	UserByEmail(ctx context.Context, email string) (User, error)
	// ListUsers returns every user, oldest first.
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser replaces the stored user of the same ID (password,
	// memberships, admin flag); the email cannot change. ErrNotFound for an
	// unknown ID.
	UpdateUser(ctx context.Context, u User) error
}

// SessionStore keeps dashboard sessions.
type SessionStore interface {
	// CreateSession fails with ErrConflict when the hash is taken.
	CreateSession(ctx context.Context, s Session) error
	// Session returns the session of a token hash, expired or not, or
	// ErrNotFound. Callers check ExpiresAt.
	Session(ctx context.Context, hash string) (Session, error)
	// DeleteSession removes a session; removing a missing one is no error.
	DeleteSession(ctx context.Context, hash string) error
	// DeleteSessionsBefore removes every session that expires before cutoff.
	DeleteSessionsBefore(ctx context.Context, cutoff time.Time) error
}

// Settings are server-wide settings changed from the dashboard. A zero
// field means "not set": the server's flag gives the value.
type Settings struct {
	// TraceRetention is how long spans are kept.
	TraceRetention time.Duration `json:"traceRetention,omitempty"`
	// SnapshotRetention is how long snapshots and logpoint lines are kept.
	SnapshotRetention time.Duration `json:"snapshotRetention,omitempty"`
	UpdatedAt         time.Time     `json:"updatedAt"`
}

// SettingsStore keeps the one Settings record.
type SettingsStore interface {
	// Settings returns the stored settings, or zero Settings when none were
	// ever stored.
	Settings(ctx context.Context) (Settings, error)
	PutSettings(ctx context.Context, s Settings) error
}

// EmailKey is the form in which an email address is unique among users:
// trimmed and in lower case. Every backend compares emails by it.
func EmailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }
