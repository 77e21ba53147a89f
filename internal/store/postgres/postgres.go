// Package postgres is the metadata store on PostgreSQL: projects, API keys,
// dashboard users and sessions, settings, breakpoints, kill switches,
// capture points and hit counts, shared by every TraceKit server of a
// deployment.
//
// It owns the schema (versioned migrations applied at Open), the SQL that
// keeps the store.MetadataStore contract across servers (unique keys and
// emails, hit counts and rate limits that concurrent servers share), and
// the LISTEN/NOTIFY channel that tells every server when a breakpoint or a
// kill switch changed (store.BreakpointWatcher). It does not own spans,
// snapshots or log lines: those are the trace store's.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tracekit-oss/tracekit/internal/store"
)

var (
	_ store.MetadataStore     = (*Store)(nil)
	_ store.BreakpointWatcher = (*Store)(nil)
)

// Config configures a Store.
type Config struct {
	// URL locates the database, as --metadata-url takes it:
	// postgres://user:password@host:5432/dbname?sslmode=disable, or any
	// form and parameter libpq accepts (pgx's connection string).
	URL string
	// Logger receives background errors, such as a lost LISTEN connection;
	// nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
	// MaxConns caps the connection pool; zero means pgx's default (the
	// greater of 4 and the number of CPUs) unless the URL sets
	// pool_max_conns. The breakpoint watcher holds one more connection.
	MaxConns int
}

// Store is the metadata store on one PostgreSQL database. It is safe for
// concurrent use, by any number of servers sharing the database.
type Store struct {
	pool         *pgxpool.Pool
	listenConfig *pgx.ConnConfig // for the watcher's own connection
	log          *slog.Logger
	now          func() time.Time
	where        string // host:port/database, for messages
	// pingEvery is how long the watcher's connection may stay silent
	// before it is pinged: listenPing, shorter in tests.
	pingEvery time.Duration

	// Close ends the running watchers before it closes the pool.
	mu       sync.Mutex
	closed   bool
	done     chan struct{}
	watchers sync.WaitGroup
}

// connectTimeout bounds each connection attempt when the URL sets none
// (connect_timeout), so that an unreachable server fails Open in seconds.
const connectTimeout = 10 * time.Second

// Open connects to the database of cfg.URL and brings its schema up to
// date. It fails when the URL is malformed or the server cannot be reached,
// saying which.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.URL == "" {
		return nil, errors.New("--metadata-url is empty: give the PostgreSQL database, e.g. postgres://tracekit@127.0.0.1:5432/tracekit")
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// pgx's message names the URL's faulty part and hides a password.
		return nil, fmt.Errorf("--metadata-url: %w; want e.g. postgres://tracekit@127.0.0.1:5432/tracekit", err)
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = int32(min(cfg.MaxConns, 1<<20))
	}
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = connectTimeout
	}
	if pc.ConnConfig.RuntimeParams["application_name"] == "" {
		pc.ConnConfig.RuntimeParams["application_name"] = "tracekit"
	}
	listen := pc.ConnConfig.Copy()
	listen.RuntimeParams["application_name"] = listenerName
	pc.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		utcTimes(c.TypeMap())
		return nil
	}
	s := &Store{
		listenConfig: listen,
		log:          cfg.Logger,
		now:          cfg.Now,
		where:        net.JoinHostPort(pc.ConnConfig.Host, strconv.Itoa(int(pc.ConnConfig.Port))) + "/" + pc.ConnConfig.Database,
		done:         make(chan struct{}),
		pingEvery:    listenPing,
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.pool, err = pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("--metadata-url: %w", err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("connect to PostgreSQL at %s (--metadata-url): %w", s.where, err)
	}
	if err := s.migrate(ctx); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("PostgreSQL at %s: %w", s.where, err)
	}
	return s, nil
}

// utcTimes makes timestamps read back in UTC, as the other backends return
// them, rather than in the server process's local zone.
func utcTimes(m *pgtype.Map) {
	m.RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID, Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
}

// Health returns nil while the database answers within a few seconds.
func (s *Store) Health() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("PostgreSQL at %s: %w", s.where, err)
	}
	return nil
}

// Close ends the running watchers and closes every connection.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.watchers.Wait()
	s.pool.Close()
	return nil
}

// PostgreSQL's codes for the errors callers branch on.
const uniqueViolation = "23505"

// conflict maps a unique violation to store.ErrConflict, so that callers
// branch on it; other errors pass unchanged.
func conflict(err error) error {
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok && pe.Code == uniqueViolation {
		return store.ErrConflict
	}
	return err
}

// notFound maps "no rows" to store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// utc returns a copy of t in UTC, or nil.
func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
