// Package backend opens the stores a server runs on, chosen by
// configuration: the trace store (spans, snapshots, logpoint lines) on the
// embedded Pebble store or on ClickHouse, and the metadata store (projects,
// keys, users, settings, breakpoints) on Pebble or PostgreSQL. It is the one
// place outside cmd/ that names a backend; everything else depends on the
// contracts in package store.
package backend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
)

// Backend names, as --storage and --metadata take them.
const (
	Pebble     = "pebble"
	ClickHouse = "clickhouse"
	Postgres   = "postgres"
)

// Config chooses and configures the backends.
type Config struct {
	// Traces is the trace store's backend: Pebble (default) or ClickHouse.
	Traces string
	// TracesURL locates a ClickHouse server and database, e.g.
	// http://127.0.0.1:8123/tracekit.
	TracesURL string
	// Metadata is the metadata store's backend: Pebble (default) or Postgres.
	Metadata string
	// MetadataURL locates a PostgreSQL database, e.g.
	// postgres://tracekit@127.0.0.1:5432/tracekit.
	MetadataURL string

	// DataDir is the embedded store's directory, used when either store is
	// on Pebble.
	DataDir string
	// Sync makes each write of the embedded store wait for fsync.
	Sync bool
	// MaxServices and MaxOperations bound a project's service names and a
	// service's operation names (zero: the defaults below); MinFreeBytes is
	// the free space under which the embedded store refuses writes.
	MaxServices, MaxOperations int
	MinFreeBytes               int64
	// Retention is how long spans are kept.
	Retention time.Duration
	Logger    *slog.Logger
	// Now is the stores' clock (tests, benchmarks); nil: time.Now.
	Now func() time.Time
}

// Defaults of the limits above.
const (
	DefaultMaxServices   = pebble.DefaultMaxServices
	DefaultMaxOperations = pebble.DefaultMaxOperations
	DefaultMinFreeBytes  = pebble.DefaultMinFreeBytes
)

// Validate checks the choice of backends, naming the flag to change.
func (c *Config) Validate() error {
	switch c.Traces {
	case "", Pebble:
	case ClickHouse:
		if c.TracesURL == "" {
			return errors.New("--storage clickhouse needs --storage-url, e.g. http://127.0.0.1:8123/tracekit")
		}
	default:
		return fmt.Errorf("--storage %q: choose pebble or clickhouse", c.Traces)
	}
	switch c.Metadata {
	case "", Pebble:
	case Postgres:
		if c.MetadataURL == "" {
			return errors.New("--metadata postgres needs --metadata-url, e.g. postgres://tracekit@127.0.0.1:5432/tracekit")
		}
	default:
		return fmt.Errorf("--metadata %q: choose pebble or postgres", c.Metadata)
	}
	if (c.Traces == "" || c.Traces == Pebble || c.Metadata == "" || c.Metadata == Pebble) && c.DataDir == "" {
		return errors.New("--data: the embedded store needs a directory")
	}
	return nil
}

// Stores are the opened stores. When both are on Pebble they are one
// database.
type Stores struct {
	Traces   store.TraceStore
	Metadata store.MetadataStore
	closers  []func() error
	healths  []func() error
	usage    func() int64
}

// Open opens the configured stores; Close releases them.
func Open(ctx context.Context, cfg Config) (*Stores, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Stores{}
	ok := false
	defer func() {
		if !ok {
			_ = s.Close()
		}
	}()
	var embedded *pebble.Store
	openPebble := func() (*pebble.Store, error) {
		if embedded != nil {
			return embedded, nil
		}
		p, err := pebble.Open(cfg.DataDir, pebble.Options{
			Sync: cfg.Sync, Retention: cfg.Retention, Logger: cfg.Logger, Now: cfg.Now,
			MaxServices: cfg.MaxServices, MaxOperations: cfg.MaxOperations, MinFreeBytes: cfg.MinFreeBytes,
		})
		if err != nil {
			return nil, err
		}
		embedded = p
		s.add(p)
		s.usage = p.DiskUsage
		return p, nil
	}
	switch cfg.Traces {
	case "", Pebble:
		p, err := openPebble()
		if err != nil {
			return nil, err
		}
		s.Traces = p
	default:
		t, err := openTraces(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("--storage %s: %w", cfg.Traces, err)
		}
		s.add(t)
		s.Traces = t
	}
	switch cfg.Metadata {
	case "", Pebble:
		p, err := openPebble()
		if err != nil {
			return nil, err
		}
		s.Metadata = p
	default:
		m, err := openMetadata(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("--metadata %s: %w", cfg.Metadata, err)
		}
		s.add(m)
		s.Metadata = m
	}
	ok = true
	return s, nil
}

// add registers a store to close and, if it reports health, to ask.
func (s *Stores) add(c interface{ Close() error }) {
	s.closers = append(s.closers, c.Close)
	if h, ok := c.(interface{ Health() error }); ok {
		s.healths = append(s.healths, h.Health)
	}
}

// Health returns nil while every store takes writes, or the first reason
// one does not (store.ErrUnavailable for a full disk, for example).
func (s *Stores) Health() error {
	for _, h := range s.healths {
		if err := h(); err != nil {
			return err
		}
	}
	return nil
}

// DiskUsage is the embedded store's size on disk, or -1 when no store is
// embedded.
func (s *Stores) DiskUsage() int64 {
	if s.usage == nil {
		return -1
	}
	return s.usage()
}

// Close closes every store, last opened first.
func (s *Stores) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}
