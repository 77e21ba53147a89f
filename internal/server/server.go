// Package server assembles a TraceKit server from its parts: the embedded
// store, key bootstrap, the OTLP receivers (HTTP and gRPC), the JSON API,
// health and metrics endpoints, and the retention job. It owns their
// lifecycle: start, serve, and a graceful stop that leaves every acknowledged
// span on disk.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/codemon"
	"github.com/tracekit-oss/tracekit/internal/ingest"
	"github.com/tracekit-oss/tracekit/internal/jaegerapi"
	"github.com/tracekit-oss/tracekit/internal/reqbody"
	"github.com/tracekit-oss/tracekit/internal/retention"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/backend"
	"github.com/tracekit-oss/tracekit/internal/web"
)

// Config is the server's configuration, validated by Validate.
type Config struct {
	// DataDir is the embedded store's directory.
	DataDir string
	// Storage and StorageURL choose the trace store (pebble, the default,
	// or clickhouse); Metadata and MetadataURL the metadata store (pebble or
	// postgres). See package store/backend.
	Storage, StorageURL   string
	Metadata, MetadataURL string
	HTTPAddr              string
	GRPCAddr              string
	// Retention is how long spans are kept.
	Retention time.Duration
	// MaxBodyBytes caps one OTLP/HTTP request body.
	MaxBodyBytes int64
	// Sync makes each write wait for fsync.
	Sync bool
	// SeedAPIKey, when set, is made an admin key of the default project.
	SeedAPIKey string
	// RetentionInterval is how often old data is dropped.
	RetentionInterval time.Duration
	// SnapshotRetention is how long code-monitoring snapshots and logpoint
	// lines are kept.
	SnapshotRetention time.Duration
	// Heartbeat is the SSE heartbeat interval of the code-monitoring stream.
	Heartbeat time.Duration
	// AdminPassword, when set, is the password of the dashboard user
	// "admin" (created if missing).
	AdminPassword string
	// TrustedProxies are reverse proxies whose X-Forwarded-Proto and
	// X-Forwarded-For the dashboard believes.
	TrustedProxies []netip.Prefix
	// CORSOrigins are the browser origins (scheme://host[:port]) whose
	// pages may send spans to /v1/traces, with an ingest key only; none by
	// default.
	CORSOrigins []string

	// Limits is what bounds the work and memory a client can cause.
	Limits Limits
}

// Limits bound what clients can make the server hold. Every one has a flag.
type Limits struct {
	// MaxInFlightBytes is the memory budget of request bodies being read
	// and decoded (OTLP and snapshot uploads); one project may hold half.
	MaxInFlightBytes int64
	// MaxSpansPerRequest, MaxAttributes and MaxValueDepth bound OTLP input
	// (see ingest.Config and ingest.SpanLimits).
	MaxSpansPerRequest, MaxAttributes, MaxValueDepth int
	// MinBodyRate (bytes/s, after 10 s) and BodyTimeout bound how slowly a
	// request body may arrive.
	MinBodyRate int64
	BodyTimeout time.Duration
	// WriteTimeout bounds writing one response (SSE streams excepted).
	WriteTimeout time.Duration
	// MaxConns and MaxConnsPerIP cap open connections per listener, in
	// total and per client address. MaxConns is kept below the process's
	// file limit.
	MaxConns, MaxConnsPerIP int
	// MaxStreams and MaxStreamsPerKey cap open code-monitoring SSE streams.
	MaxStreams, MaxStreamsPerKey int
	// MaxServices and MaxOperations cap the services of a project and the
	// operation names of a service; spans beyond are refused.
	MaxServices, MaxOperations int
	// MinFreeDisk is the free space under which writes are refused with
	// 503 (and /readyz fails) until space is back.
	MinFreeDisk int64
}

// DefaultLimits returns the documented defaults.
func DefaultLimits() Limits {
	return Limits{
		MaxInFlightBytes: ingest.DefaultBudgetBytes, MaxSpansPerRequest: 100_000, MaxAttributes: 256, MaxValueDepth: 32,
		MinBodyRate: 4 << 10, BodyTimeout: 2 * time.Minute, WriteTimeout: 2 * time.Minute,
		MaxConns: 4096, MaxConnsPerIP: 1024, MaxStreams: codemon.DefaultMaxStreams, MaxStreamsPerKey: codemon.DefaultMaxStreamsPerKey,
		MaxServices: backend.DefaultMaxServices, MaxOperations: backend.DefaultMaxOperations, MinFreeDisk: backend.DefaultMinFreeBytes,
	}
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		DataDir: "./tracekit-data", HTTPAddr: "127.0.0.1:4318", GRPCAddr: "127.0.0.1:4317",
		Retention: 30 * 24 * time.Hour, MaxBodyBytes: 16 << 20, Sync: true, RetentionInterval: time.Hour,
		SnapshotRetention: 30 * 24 * time.Hour, Heartbeat: 15 * time.Second, Limits: DefaultLimits(),
	}
}

// Validate checks the configuration, naming the setting at fault.
func (c *Config) Validate() error {
	bc := backend.Config{Traces: c.Storage, TracesURL: c.StorageURL, Metadata: c.Metadata, MetadataURL: c.MetadataURL, DataDir: c.DataDir}
	if err := bc.Validate(); err != nil {
		return err
	}
	switch {
	case c.HTTPAddr == "":
		return errors.New("--http-addr: an address is required")
	case c.Retention < time.Hour:
		return fmt.Errorf("--retention %s: keep data for at least 1h", c.Retention)
	case c.SnapshotRetention < time.Hour:
		return fmt.Errorf("--snapshot-retention %s: keep snapshots for at least 1h", c.SnapshotRetention)
	case c.MaxBodyBytes < 1024:
		return fmt.Errorf("--max-body %d: allow at least 1024 bytes", c.MaxBodyBytes)
	case c.RetentionInterval <= 0:
		c.RetentionInterval = time.Hour
	}
	for name, addr := range map[string]string{"--http-addr": c.HTTPAddr, "--grpc-addr": c.GRPCAddr} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%s %q: use host:port (%v)", name, addr, err)
		}
	}
	if c.SeedAPIKey != "" && len(c.SeedAPIKey) < 16 {
		return errors.New("TRACEKIT_API_KEY: the seeded key must be at least 16 characters")
	}
	return c.Limits.validate(c.MaxBodyBytes)
}

// validate fills zero fields with their defaults and checks the rest.
func (l *Limits) validate(maxBody int64) error {
	d := DefaultLimits()
	for _, f := range []struct{ v, def *int }{
		{&l.MaxSpansPerRequest, &d.MaxSpansPerRequest}, {&l.MaxAttributes, &d.MaxAttributes}, {&l.MaxValueDepth, &d.MaxValueDepth},
		{&l.MaxConns, &d.MaxConns}, {&l.MaxConnsPerIP, &d.MaxConnsPerIP}, {&l.MaxStreams, &d.MaxStreams}, {&l.MaxStreamsPerKey, &d.MaxStreamsPerKey},
		{&l.MaxServices, &d.MaxServices}, {&l.MaxOperations, &d.MaxOperations},
	} {
		if *f.v == 0 {
			*f.v = *f.def
		}
	}
	if l.MaxInFlightBytes == 0 {
		l.MaxInFlightBytes = max(d.MaxInFlightBytes, 4*maxBody)
	}
	if l.BodyTimeout == 0 {
		l.BodyTimeout = d.BodyTimeout
	}
	if l.WriteTimeout == 0 {
		l.WriteTimeout = d.WriteTimeout
	}
	for _, c := range []struct {
		flag   string
		v, min int64
	}{
		{"--max-inflight-bytes", l.MaxInFlightBytes, 2 * maxBody},
		{"--max-spans-per-request", int64(l.MaxSpansPerRequest), 1},
		{"--max-attributes", int64(l.MaxAttributes), 1},
		{"--max-value-depth", int64(l.MaxValueDepth), 1},
		{"--min-body-rate", l.MinBodyRate, 0},
		{"--body-timeout", int64(l.BodyTimeout), int64(time.Second)},
		{"--write-timeout", int64(l.WriteTimeout), int64(time.Second)},
		{"--max-conns", int64(l.MaxConns), 16},
		{"--max-conns-per-ip", int64(l.MaxConnsPerIP), 1},
		{"--max-streams", int64(l.MaxStreams), 1},
		{"--max-streams-per-key", int64(l.MaxStreamsPerKey), 1},
		{"--max-services", int64(l.MaxServices), 1},
		{"--max-operations", int64(l.MaxOperations), 1},
		{"--min-free-disk", l.MinFreeDisk, 0},
	} {
		if c.v < c.min {
			if c.flag == "--max-inflight-bytes" {
				return fmt.Errorf("%s %d: allow at least twice --max-body (%d)", c.flag, c.v, c.min)
			}
			return fmt.Errorf("%s %d: must be at least %d", c.flag, c.v, c.min)
		}
	}
	if l.MaxValueDepth > 256 {
		return fmt.Errorf("--max-value-depth %d: at most 256", l.MaxValueDepth)
	}
	// Keep room below the file limit for the store's files and the
	// server's own, so that /healthz answers even with every slot taken.
	if fl := fileLimit(); fl > 0 && l.MaxConns > fl-256 {
		l.MaxConns = max(16, fl-256)
	}
	l.MaxConnsPerIP = min(l.MaxConnsPerIP, l.MaxConns)
	return nil
}

// Server is a running TraceKit server.
type Server struct {
	cfg      Config
	log      *slog.Logger
	stores   *backend.Stores
	st       both
	httpSrv  *http.Server
	grpcSrv  *grpc.Server
	httpLn   net.Listener
	grpcLn   net.Listener
	firstKey string
	firstPwd string
	codemon  *codemon.Service
	routes   *routeTable
}

// New opens the store, bootstraps keys and binds the listeners. Call Serve
// to start serving; the caller owns the returned server until Serve returns.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	stores, err := backend.Open(ctx, backend.Config{
		Traces: cfg.Storage, TracesURL: cfg.StorageURL, Metadata: cfg.Metadata, MetadataURL: cfg.MetadataURL,
		DataDir: cfg.DataDir, Retention: cfg.Retention, Logger: log, Sync: cfg.Sync,
		MaxServices: cfg.Limits.MaxServices, MaxOperations: cfg.Limits.MaxOperations, MinFreeBytes: cfg.Limits.MinFreeDisk,
	})
	if err != nil {
		return nil, err
	}
	st := both{TraceStore: stores.Traces, MetadataStore: stores.Metadata}
	s := &Server{cfg: cfg, log: log, stores: stores, st: st}
	ok := false
	defer func() {
		if !ok {
			s.closeListeners()
			stores.Close()
		}
	}()
	if s.firstKey, err = auth.Bootstrap(ctx, stores.Metadata, cfg.SeedAPIKey, time.Now()); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tracekit_store_bytes", Help: "Bytes the embedded store occupies on disk.",
	}, func() float64 { return float64(stores.DiskUsage()) }))
	authn := auth.NewAuthenticator(stores.Metadata)
	lim := cfg.Limits
	budget := reqbody.NewBudget(lim.MaxInFlightBytes, 0)
	recv, err := ingest.New(stores.Traces, authn, ingest.Config{
		MaxBodyBytes: cfg.MaxBodyBytes, MaxSpansPerRequest: lim.MaxSpansPerRequest, Budget: budget,
		Spans: ingest.SpanLimits{MaxAttributes: lim.MaxAttributes, MaxValueDepth: lim.MaxValueDepth},
	}, log, reg)
	if err != nil {
		return nil, err
	}
	mux := newRouteTable()
	s.routes = mux
	mux.Handle("/v1/traces", corsIntake(recv, cfg.CORSOrigins, authn))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := stores.Health(); err != nil {
			w.Header().Set("Retry-After", "5")
			http.Error(w, "store not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		if _, err := stores.Metadata.Project(r.Context(), auth.DefaultProject); err != nil {
			http.Error(w, "store not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s.codemon = codemon.New(st, log, codemon.Options{
		Heartbeat: cfg.Heartbeat, MaxStreams: lim.MaxStreams, MaxStreamsPerKey: lim.MaxStreamsPerKey,
		MaxSnapshotAge: cfg.SnapshotRetention, Budget: budget,
	})
	s.codemon.RegisterSDK(mux, authn)
	s.codemon.RegisterAPI(mux, authn)
	api.New(st, s.codemon, log).Register(mux, authn)
	// The trace store itself, so that its optional ServiceMapReader is found.
	jaegerapi.New(stores.Traces, log).Register(mux, authn)
	if s.firstPwd, err = web.Bootstrap(ctx, stores.Metadata, cfg.AdminPassword, time.Now()); err != nil {
		return nil, err
	}
	dash, err := web.New(web.Config{Store: st, Codemon: s.codemon, Log: log, TraceRetention: cfg.Retention,
		SnapshotRetention: cfg.SnapshotRetention, TrustedProxies: cfg.TrustedProxies})
	if err != nil {
		return nil, err
	}
	dash.Register(mux)

	// A body must keep arriving (reqbody.Guard) and a response must be
	// taken within WriteTimeout: http.Server's own ReadTimeout and
	// WriteTimeout would also end the SSE streams.
	handler := reqbody.Guard(writeDeadline(mux, lim.WriteTimeout),
		reqbody.RateLimits{Idle: 10 * time.Second, Total: lim.BodyTimeout, MinRate: lim.MinBodyRate, Grace: 10 * time.Second})
	s.httpSrv = &http.Server{
		Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	s.httpSrv.RegisterOnShutdown(s.codemon.Close)
	s.grpcSrv = grpc.NewServer(append(recv.GRPCOptions(),
		grpc.ConnectionTimeout(10*time.Second),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 2 * time.Minute}),
	)...)
	recv.RegisterGRPC(s.grpcSrv)

	if s.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("--http-addr %s: %w", cfg.HTTPAddr, err)
	}
	s.httpLn = limitConns(s.httpLn, lim.MaxConns, lim.MaxConnsPerIP, httpRefusal)
	if cfg.GRPCAddr != "" {
		if s.grpcLn, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
			return nil, fmt.Errorf("--grpc-addr %s: %w", cfg.GRPCAddr, err)
		}
		s.grpcLn = limitConns(s.grpcLn, lim.MaxConns, lim.MaxConnsPerIP, nil)
	}
	ok = true
	return s, nil
}

func (s *Server) closeListeners() {
	if s.httpLn != nil {
		s.httpLn.Close()
	}
	if s.grpcLn != nil {
		s.grpcLn.Close()
	}
}

// FirstAdminKey is the admin key created at this first start, or "".
func (s *Server) FirstAdminKey() string { return s.firstKey }

// FirstAdminPassword is the password of the dashboard user "admin" created
// at this first start, or "".
func (s *Server) FirstAdminPassword() string { return s.firstPwd }

// HTTPAddr is the bound HTTP address.
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

// GRPCAddr is the bound gRPC address, or "" when gRPC is off.
func (s *Server) GRPCAddr() string {
	if s.grpcLn == nil {
		return ""
	}
	return s.grpcLn.Addr().String()
}

// Serve serves until ctx is done, then stops gracefully: it stops accepting,
// waits for requests in flight (whose spans are then durable), and closes
// the store.
func (s *Server) Serve(ctx context.Context) error {
	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Add(2)
	go func() {
		defer wg.Done()
		retention.Run(bg, s.cfg.RetentionInterval, time.Now, s.log,
			retention.Job{Name: "spans", Drop: s.stores.Traces.DeleteSpansBefore,
				Keep: s.keep(s.cfg.Retention, func(st store.Settings) time.Duration { return st.TraceRetention })},
			retention.Job{Name: "snapshots", Drop: s.stores.Traces.DeleteSnapshotsBefore,
				Keep: s.keep(s.cfg.SnapshotRetention, func(st store.Settings) time.Duration { return st.SnapshotRetention })},
			retention.Job{Name: "sessions", Drop: s.stores.Metadata.DeleteSessionsBefore, Keep: retention.Fixed(0)})
	}()
	go func() {
		defer wg.Done()
		s.codemon.Run(bg)
	}()
	go func() {
		if err := s.httpSrv.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("serve http: %w", err)
		}
	}()
	if s.grpcLn != nil {
		go func() {
			if err := s.grpcSrv.Serve(s.grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
				errc <- fmt.Errorf("serve grpc: %w", err)
			}
		}()
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := s.httpSrv.Shutdown(shutdownCtx); err != nil {
		s.log.Warn("http shutdown", "err", err)
	}
	stopped := make(chan struct{})
	go func() { s.grpcSrv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-shutdownCtx.Done():
		s.grpcSrv.Stop()
	}
	stopBG()
	wg.Wait()
	if err := s.stores.Close(); err != nil && serveErr == nil {
		serveErr = err
	}
	return serveErr
}

// writeDeadline bounds the time to write a response, so that a client that
// stops reading cannot hold a handler; the SSE stream manages its own.
func writeDeadline(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/codemon/stream" {
			_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d))
		}
		next.ServeHTTP(w, r)
	})
}

// keep returns how long to keep one kind of data: the retention set on the
// dashboard's settings page, or def (the flag) when none is set.
func (s *Server) keep(def time.Duration, pick func(store.Settings) time.Duration) func(context.Context) time.Duration {
	return func(ctx context.Context) time.Duration {
		set, err := s.stores.Metadata.Settings(ctx)
		if err != nil {
			s.log.Warn("retention: read settings, using the flag's value", "err", err)
			return def
		}
		if d := pick(set); d > 0 {
			return d
		}
		return def
	}
}

// MintKey creates a key of the default project, for wiring such as the
// demo traffic of `tracekit server --demo`.
func (s *Server) MintKey(ctx context.Context, name string, scope store.Scope) (string, error) {
	secret, _, err := auth.CreateKey(ctx, s.stores.Metadata, auth.DefaultProject, name, scope, "", time.Now())
	return secret, err
}

// Store returns the server's store, for wiring that reads it in-process.
func (s *Server) Store() *backend.Stores { return s.stores }

// both is the trace and metadata stores as one, for the components that
// read trace data and manage metadata (the API, the dashboard, code
// monitoring).
type both struct {
	store.TraceStore
	store.MetadataStore
}

// ServiceMap reads the trace store's service map. Embedding the
// TraceStore interface hides the optional readers of its backend, so they
// are forwarded; one the backend lacks fails with errors.ErrUnsupported.
func (b both) ServiceMap(ctx context.Context, project string, start, end time.Time) ([]store.ServiceEdge, error) {
	if sm, ok := b.TraceStore.(store.ServiceMapReader); ok {
		return sm.ServiceMap(ctx, project, start, end)
	}
	return nil, fmt.Errorf("service map: %w", errors.ErrUnsupported)
}

// OperationStats reads the trace store's span statistics, forwarded like
// ServiceMap.
func (b both) OperationStats(ctx context.Context, project string, start, end time.Time) ([]store.OperationStats, error) {
	if sr, ok := b.TraceStore.(store.SpanStatsReader); ok {
		return sr.OperationStats(ctx, project, start, end)
	}
	return nil, fmt.Errorf("span statistics: %w", errors.ErrUnsupported)
}

// REDSeries reads the trace store's RED series, forwarded like ServiceMap.
func (b both) REDSeries(ctx context.Context, project, service, operation string, start, end time.Time, step time.Duration) ([]store.REDPoint, error) {
	if sr, ok := b.TraceStore.(store.SeriesReader); ok {
		return sr.REDSeries(ctx, project, service, operation, start, end, step)
	}
	return nil, fmt.Errorf("RED series: %w", errors.ErrUnsupported)
}

// FindTracePoints lists a search's traces for the scatter plot, forwarded
// like ServiceMap.
func (b both) FindTracePoints(ctx context.Context, project string, q store.TraceQuery, limit int) ([]store.TracePoint, error) {
	if tp, ok := b.TraceStore.(store.TracePointReader); ok {
		return tp.FindTracePoints(ctx, project, q, limit)
	}
	return nil, fmt.Errorf("trace points: %w", errors.ErrUnsupported)
}

// WatchBreakpoints forwards the metadata store's watcher of changes made
// through other servers; a store of one server has none.
func (b both) WatchBreakpoints(ctx context.Context, changed func(project, service string)) error {
	if w, ok := b.MetadataStore.(store.BreakpointWatcher); ok {
		return w.WatchBreakpoints(ctx, changed)
	}
	return fmt.Errorf("watch breakpoints: %w", errors.ErrUnsupported)
}
