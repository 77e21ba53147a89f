// Package clickhouse is TraceKit's trace store on a ClickHouse server:
// spans, code-monitoring snapshots and logpoint lines, for deployments that
// outgrow the embedded Pebble store.
//
// It speaks ClickHouse's HTTP interface with net/http and RowBinary rows,
// which every server version from 18.16 (Debian's package) to current ones
// understands; features that only newer servers have (LowCardinality,
// compression codecs, data-skipping indexes, TTL) are used where the version
// the server reports has them. Its schema is versioned and migrated at Open.
// See README.md beside this file for the schema and why it is shaped so.
//
// It owns the tables in its database and nothing else: metadata (projects,
// keys, breakpoints, hit counts) lives in the metadata store.
package clickhouse

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
)

const day = 24 * time.Hour

// DefaultRetention is how long spans are kept when Config.Retention is zero.
const DefaultRetention = 30 * day

// Config configures the store.
type Config struct {
	// URL locates the server and database, as --storage-url takes it:
	// http://[user:password@]host:port/database[?setting=value...]. The
	// database is created if missing; without a path it is "tracekit". Query
	// parameters are ClickHouse settings sent with every query.
	URL string
	// Retention is how long spans are kept (DefaultRetention when zero). It
	// also bounds how far in the past a span's start time may file it: older
	// spans go to the day they arrived, as in the embedded store.
	Retention time.Duration
	// Logger receives what the store does at start (version, migrations);
	// nil discards it.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
	// HTTPClient sends the requests; nil means a client of the store's own,
	// whose idle connections Close releases.
	HTTPClient *http.Client

	_ struct{}
}

// Store is the ClickHouse trace store. It is safe for concurrent use.
type Store struct {
	c       *client
	cfg     Config
	version Version
	feat    features
	owned   *http.Transport // the transport Close releases, if ours
	closed  atomic.Bool
}

var (
	_ store.TraceStore      = (*Store)(nil)
	_ store.SpanStatsReader = (*Store)(nil)
)

var dbNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// parseURL checks the storage URL and splits it into the endpoint, the
// credentials, settings and the database name.
func parseURL(raw string) (*client, error) {
	bad := func(why string) error {
		return fmt.Errorf("--storage-url %q: %s; want http://host:8123/database", redact(raw), why)
	}
	if raw == "" {
		return nil, bad("empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, bad("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, bad("the scheme must be http or https (the HTTP interface, port 8123 by default)")
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, bad("no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, bad("bad port")
		}
	}
	db := strings.Trim(u.Path, "/")
	if db == "" {
		db = "tracekit"
	}
	if !dbNameRe.MatchString(db) {
		return nil, bad(fmt.Sprintf("database name %q must be letters, digits and _ (not starting with a digit)", db))
	}
	return &client{
		endpoint: u.Scheme + "://" + u.Host + "/",
		user:     u.User,
		settings: u.Query(),
		database: db,
	}, nil
}

// redact hides a password in a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// Open connects to the server, creates the database if missing, detects the
// server's version and migrates the schema. Two servers opening one database
// at once is safe.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	c, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Retention < 0 {
		return nil, fmt.Errorf("--retention %v: must not be negative", cfg.Retention)
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{c: c, cfg: cfg}
	c.http = cfg.HTTPClient
	if c.http == nil {
		s.owned = &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:        32,
			MaxIdleConnsPerHost: 32,
			IdleConnTimeout:     30 * time.Second,
		}
		c.http = &http.Client{Transport: s.owned}
	}
	ok := false
	defer func() {
		if !ok {
			s.release()
		}
	}()
	where := redact(cfg.URL)
	v, err := s.detectVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to ClickHouse at %s (--storage-url): %w", where, err)
	}
	s.version, s.feat = v, featuresOf(v)
	db := c.database
	err = c.server().exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db)
	if err != nil && !isCode(err, codeDatabaseAlreadyExists) {
		return nil, fmt.Errorf("create database %s: %w", db, err)
	}
	applied, err := s.migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate database %s: %w", db, err)
	}
	if err := s.applyTTL(ctx); err != nil {
		return nil, fmt.Errorf("set retention TTL in %s: %w", db, err)
	}
	cfg.Logger.Info("clickhouse trace store open", "server", v.String(), "database", db,
		"migrations_applied", applied, "schema_version", len(migrations), "features", s.feat.String())
	ok = true
	return s, nil
}

// Version is a ClickHouse server version, as version() reports it.
type Version struct {
	Major, Minor, Patch int
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// atLeast reports whether v is major.minor or later.
func (v Version) atLeast(major, minor int) bool {
	return v.Major > major || v.Major == major && v.Minor >= minor
}

// ParseVersion reads "18.16.1" or "24.3.2.23" (later fields are ignored).
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 2 {
		return Version{}, fmt.Errorf("server version %q is not major.minor[.patch]", s)
	}
	var v Version
	for i, p := range []*int{&v.Major, &v.Minor, &v.Patch} {
		if i >= len(parts) {
			break
		}
		n, err := strconv.Atoi(parts[i])
		if err != nil || n < 0 {
			return Version{}, fmt.Errorf("server version %q is not major.minor[.patch]", s)
		}
		*p = n
	}
	return v, nil
}

// ServerVersion returns the version the server reported at Open.
func (s *Store) ServerVersion() Version { return s.version }

func (s *Store) detectVersion(ctx context.Context) (Version, error) {
	var raw string
	// The database may not exist yet.
	err := s.c.server().query(ctx, "SELECT version()", func(r *rowReader) error {
		raw = r.str()
		return nil
	})
	if err != nil {
		return Version{}, err
	}
	return ParseVersion(raw)
}

// features are what the connected server supports beyond 18.16, decided
// from its version. The thresholds are conservative: each is a release that
// has the feature enabled by default, without experimental settings.
type features struct {
	// lowCardinality dictionary-encodes repetitive strings (service and
	// operation names).
	lowCardinality bool
	// codecs compress time columns with Delta and large columns with ZSTD.
	codecs bool
	// skipIndexes add bloom filters on attribute values and a minmax index
	// on durations, which a search skips granules by.
	skipIndexes bool
	// ttl lets the server drop expired day partitions by itself too.
	ttl bool
}

func featuresOf(v Version) features {
	return features{
		lowCardinality: v.atLeast(20, 1),
		codecs:         v.atLeast(20, 1),
		skipIndexes:    v.atLeast(20, 8),
		ttl:            v.atLeast(21, 8),
	}
}

func (f features) String() string {
	var on []string
	for _, x := range []struct {
		name string
		on   bool
	}{{"low_cardinality", f.lowCardinality}, {"codecs", f.codecs}, {"skip_indexes", f.skipIndexes}, {"ttl", f.ttl}} {
		if x.on {
			on = append(on, x.name)
		}
	}
	if len(on) == 0 {
		return "none"
	}
	return strings.Join(on, ",")
}

// errClosed is returned by calls after Close.
var errClosed = errors.New("clickhouse trace store is closed")

func (s *Store) check(project string) error {
	if s.closed.Load() {
		return errClosed
	}
	if project == "" || len(project) > 255 {
		return fmt.Errorf("project name must be 1 to 255 bytes, got %d", len(project))
	}
	return nil
}

// Health pings the server: nil while it answers.
func (s *Store) Health() error {
	if s.closed.Load() {
		return errClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.c.exec(ctx, "SELECT 1"); err != nil {
		return fmt.Errorf("%w: clickhouse does not answer: %v", store.ErrUnavailable, err)
	}
	return nil
}

// Close releases the store's connections. Writes are durable when they
// return, so there is nothing to flush.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return errors.New("close clickhouse trace store: already closed")
	}
	s.release()
	return nil
}

func (s *Store) release() {
	if s.owned != nil {
		s.owned.CloseIdleConnections()
	}
}

// dayNumber is a Date value: days since 1970-01-01.
func dayNumber(ns int64) uint16 {
	d := ns / int64(day)
	if ns < 0 && ns%int64(day) != 0 {
		d--
	}
	return uint16(max(0, min(d, 65535)))
}

// dateLiteral renders a Date for SQL.
func dateLiteral(d uint16) string {
	return "toDate(" + quote(time.Unix(int64(d)*86400, 0).UTC().Format("2006-01-02")) + ")"
}
