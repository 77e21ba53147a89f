package pebble

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	pdb "github.com/cockroachdb/pebble/v2"

	"github.com/tracekit-oss/tracekit/internal/store"
)

// Metadata is small and read rarely compared with spans: JSON values under
// the M prefix, written with fsync.
func metaKey(parts ...string) []byte {
	k := []byte{kindMeta}
	for i, p := range parts {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, p...)
	}
	return k
}

func (s *Store) getJSON(key []byte, v any) error {
	b, closer, err := s.db.Get(key)
	if errors.Is(err, pdb.ErrNotFound) {
		return store.ErrNotFound
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	return json.Unmarshal(b, v)
}

func (s *Store) exists(key []byte) (bool, error) {
	_, closer, err := s.db.Get(key)
	if errors.Is(err, pdb.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	closer.Close()
	return true, nil
}

// CreateProject stores a new project.
func (s *Store) CreateProject(ctx context.Context, p store.Project) error {
	if err := checkName("project", p.ID); err != nil {
		return err
	}
	s.metaMu.Lock() // serialises check-then-set of metadata
	defer s.metaMu.Unlock()
	key := metaKey("project", p.ID)
	ok, err := s.exists(key)
	if err != nil {
		return fmt.Errorf("create project %s: %w", p.ID, err)
	}
	if ok {
		return fmt.Errorf("project %s: %w", p.ID, store.ErrConflict)
	}
	b, _ := json.Marshal(p)
	if err := s.set(key, b, pdb.Sync); err != nil {
		return fmt.Errorf("create project %s: %w", p.ID, err)
	}
	return nil
}

// Project returns one project.
func (s *Store) Project(ctx context.Context, id string) (store.Project, error) {
	var p store.Project
	if err := s.getJSON(metaKey("project", id), &p); err != nil {
		return p, fmt.Errorf("read project %s: %w", id, err)
	}
	return p, nil
}

// ListProjects returns every project, by ID.
func (s *Store) ListProjects(ctx context.Context) ([]store.Project, error) {
	var out []store.Project
	err := s.scan(ctx, metaKey("project", ""), func(_, v []byte) error {
		var p store.Project
		if err := json.Unmarshal(v, &p); err != nil {
			return err
		}
		out = append(out, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return out, nil
}

// keyRecord is the stored form of an API key, hash included.
type keyRecord struct {
	store.APIKey
	Hash string `json:"hash"`
}

// CreateKey stores a new key under its hash, with an index by project and ID.
func (s *Store) CreateKey(ctx context.Context, k store.APIKey) error {
	if k.ID == "" || k.Hash == "" || k.Project == "" {
		return fmt.Errorf("create key: id, hash and project are required")
	}
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	hk, ik := metaKey("key", k.Hash), metaKey("keyid", k.Project, k.ID)
	for _, key := range [][]byte{hk, ik} {
		ok, err := s.exists(key)
		if err != nil {
			return fmt.Errorf("create key %s: %w", k.ID, err)
		}
		if ok {
			return fmt.Errorf("key %s: %w", k.ID, store.ErrConflict)
		}
	}
	b, _ := json.Marshal(keyRecord{APIKey: k, Hash: k.Hash})
	batch := s.db.NewBatch()
	defer batch.Close()
	_ = batch.Set(hk, b, nil)
	_ = batch.Set(ik, []byte(k.Hash), nil)
	if err := s.commit(batch, pdb.Sync); err != nil {
		return fmt.Errorf("create key %s: %w", k.ID, err)
	}
	return nil
}

// KeyByHash finds a key by the hash of its secret.
func (s *Store) KeyByHash(ctx context.Context, hash string) (store.APIKey, error) {
	var r keyRecord
	if err := s.getJSON(metaKey("key", hash), &r); err != nil {
		return store.APIKey{}, fmt.Errorf("look up key: %w", err)
	}
	r.APIKey.Hash = r.Hash
	return r.APIKey, nil
}

// ListKeys returns a project's keys, oldest first.
func (s *Store) ListKeys(ctx context.Context, project string) ([]store.APIKey, error) {
	var hashes []string
	err := s.scan(ctx, append(metaKey("keyid", project), 0), func(_, v []byte) error {
		hashes = append(hashes, string(v))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list keys of %s: %w", project, err)
	}
	out := make([]store.APIKey, 0, len(hashes))
	for _, h := range hashes {
		k, err := s.KeyByHash(ctx, h)
		if err != nil {
			return nil, fmt.Errorf("list keys of %s: %w", project, err)
		}
		out = append(out, k)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.Before(out[j].CreatedAt) })
	return out, nil
}

// RevokeKey marks a key revoked.
func (s *Store) RevokeKey(ctx context.Context, project, id string, at time.Time) error {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	hb, closer, err := s.db.Get(metaKey("keyid", project, id))
	if errors.Is(err, pdb.ErrNotFound) {
		return fmt.Errorf("revoke key %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("revoke key %s: %w", id, err)
	}
	hash := string(hb)
	closer.Close()
	var r keyRecord
	if err := s.getJSON(metaKey("key", hash), &r); err != nil {
		return fmt.Errorf("revoke key %s: %w", id, err)
	}
	if r.RevokedAt == nil {
		t := at.UTC()
		r.RevokedAt = &t
	}
	b, _ := json.Marshal(r)
	if err := s.set(metaKey("key", hash), b, pdb.Sync); err != nil {
		return fmt.Errorf("revoke key %s: %w", id, err)
	}
	return nil
}
