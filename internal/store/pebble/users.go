package pebble

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/store"
)

// Dashboard users, sessions and settings are metadata like keys (M prefix,
// JSON, fsync):
//
//	M user 0 id           user
//	M useremail 0 email   user ID, email lower-cased
//	M session 0 hash      session
//	M settings            the settings record
var (
	_ store.UserStore     = (*Store)(nil)
	_ store.SessionStore  = (*Store)(nil)
	_ store.SettingsStore = (*Store)(nil)
)

func emailKey(email string) []byte {
	return metaKey("useremail", store.EmailKey(email))
}

// CreateUser stores a new user and its email index.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	if u.ID == "" || strings.TrimSpace(u.Email) == "" {
		return errors.New("create user: id and email are required")
	}
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	uk, ek := metaKey("user", u.ID), emailKey(u.Email)
	for _, key := range [][]byte{uk, ek} {
		ok, err := s.exists(key)
		if err != nil {
			return fmt.Errorf("create user %s: %w", u.Email, err)
		}
		if ok {
			return fmt.Errorf("user %s: %w", u.Email, store.ErrConflict)
		}
	}
	v, _ := json.Marshal(u)
	b := s.db.NewBatch()
	defer b.Close()
	_ = b.Set(uk, v, nil)
	_ = b.Set(ek, []byte(u.ID), nil)
	if err := s.commit(b, pdb.Sync); err != nil {
		return fmt.Errorf("create user %s: %w", u.Email, err)
	}
	return nil
}

// User reads one user by ID.
func (s *Store) User(ctx context.Context, id string) (store.User, error) {
	var u store.User
	if err := s.getJSON(metaKey("user", id), &u); err != nil {
		return u, fmt.Errorf("read user %s: %w", id, err)
	}
	return u, nil
}

// UserByEmail finds a user by sign-in name.
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	id, closer, err := s.db.Get(emailKey(email))
	if errors.Is(err, pdb.ErrNotFound) {
		return store.User{}, fmt.Errorf("user %s: %w", email, store.ErrNotFound)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("look up user %s: %w", email, err)
	}
	uid := string(id)
	closer.Close()
	return s.User(ctx, uid)
}

// ListUsers returns every user, oldest first.
func (s *Store) ListUsers(ctx context.Context) ([]store.User, error) {
	var out []store.User
	err := s.scan(ctx, metaKey("user", ""), func(_, v []byte) error {
		var u store.User
		if err := json.Unmarshal(v, &u); err != nil {
			return err
		}
		out = append(out, u)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// UpdateUser replaces a user; its email cannot change.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	old, err := s.User(ctx, u.ID)
	if err != nil {
		return err
	}
	if !strings.EqualFold(strings.TrimSpace(old.Email), strings.TrimSpace(u.Email)) {
		return fmt.Errorf("update user %s: the email cannot change", u.ID)
	}
	v, _ := json.Marshal(u)
	if err := s.set(metaKey("user", u.ID), v, pdb.Sync); err != nil {
		return fmt.Errorf("update user %s: %w", u.ID, err)
	}
	return nil
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, se store.Session) error {
	if se.Hash == "" || se.UserID == "" {
		return errors.New("create session: hash and user are required")
	}
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	key := metaKey("session", se.Hash)
	ok, err := s.exists(key)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	if ok {
		return fmt.Errorf("session: %w", store.ErrConflict)
	}
	v, _ := json.Marshal(se)
	if err := s.set(key, v, pdb.Sync); err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// Session reads a session by the hash of its token.
func (s *Store) Session(ctx context.Context, hash string) (store.Session, error) {
	var se store.Session
	if hash == "" {
		return se, store.ErrNotFound
	}
	if err := s.getJSON(metaKey("session", hash), &se); err != nil {
		return se, fmt.Errorf("read session: %w", err)
	}
	return se, nil
}

// DeleteSession removes a session.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	if err := s.delete(metaKey("session", hash), pdb.Sync); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// DeleteSessionsBefore removes the sessions that expire before cutoff.
func (s *Store) DeleteSessionsBefore(ctx context.Context, cutoff time.Time) error {
	var stale [][]byte
	err := s.scan(ctx, metaKey("session", ""), func(k, v []byte) error {
		var se store.Session
		if err := json.Unmarshal(v, &se); err != nil || se.ExpiresAt.Before(cutoff) {
			stale = append(stale, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scan sessions: %w", err)
	}
	if len(stale) == 0 {
		return nil
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, k := range stale {
		_ = b.Delete(k, nil)
	}
	if err := s.commit(b, pdb.Sync); err != nil {
		return fmt.Errorf("delete %d expired sessions: %w", len(stale), err)
	}
	return nil
}

// Settings reads the settings record; zero when never stored.
func (s *Store) Settings(ctx context.Context) (store.Settings, error) {
	var st store.Settings
	err := s.getJSON(metaKey("settings"), &st)
	if errors.Is(err, store.ErrNotFound) {
		return store.Settings{}, nil
	}
	if err != nil {
		return st, fmt.Errorf("read settings: %w", err)
	}
	return st, nil
}

// PutSettings replaces the settings record.
func (s *Store) PutSettings(ctx context.Context, st store.Settings) error {
	v, _ := json.Marshal(st)
	if err := s.set(metaKey("settings"), v, pdb.Sync); err != nil {
		return fmt.Errorf("store settings: %w", err)
	}
	return nil
}
