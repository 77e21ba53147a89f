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
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/codemon"
	"github.com/tracekit-oss/tracekit/internal/ingest"
	"github.com/tracekit-oss/tracekit/internal/retention"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
	"github.com/tracekit-oss/tracekit/internal/web"
)

// Config is the server's configuration, validated by Validate.
type Config struct {
	DataDir  string
	HTTPAddr string
	GRPCAddr string
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
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		DataDir: "./tracekit-data", HTTPAddr: "127.0.0.1:4318", GRPCAddr: "127.0.0.1:4317",
		Retention: 30 * 24 * time.Hour, MaxBodyBytes: 16 << 20, Sync: true, RetentionInterval: time.Hour,
		SnapshotRetention: 30 * 24 * time.Hour, Heartbeat: 15 * time.Second,
	}
}

// Validate checks the configuration, naming the setting at fault.
func (c *Config) Validate() error {
	switch {
	case c.DataDir == "":
		return errors.New("--data: a data directory is required")
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
	return nil
}

// Server is a running TraceKit server.
type Server struct {
	cfg      Config
	log      *slog.Logger
	st       *pebble.Store
	httpSrv  *http.Server
	grpcSrv  *grpc.Server
	httpLn   net.Listener
	grpcLn   net.Listener
	firstKey string
	firstPwd string
	codemon  *codemon.Service
}

// New opens the store, bootstraps keys and binds the listeners. Call Serve
// to start serving; the caller owns the returned server until Serve returns.
func New(ctx context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st, err := pebble.Open(cfg.DataDir, pebble.Options{Sync: cfg.Sync, Retention: cfg.Retention})
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, st: st}
	ok := false
	defer func() {
		if !ok {
			s.closeListeners()
			st.Close()
		}
	}()
	if s.firstKey, err = auth.Bootstrap(ctx, st, cfg.SeedAPIKey, time.Now()); err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tracekit_store_bytes", Help: "Bytes the embedded store occupies on disk.",
	}, func() float64 { return float64(st.DiskUsage()) }))
	authn := auth.NewAuthenticator(st)
	recv, err := ingest.New(st, authn, ingest.Config{MaxBodyBytes: cfg.MaxBodyBytes}, log, reg)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/traces", recv)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := st.Project(r.Context(), auth.DefaultProject); err != nil {
			http.Error(w, "store not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s.codemon = codemon.New(st, log, codemon.Options{Heartbeat: cfg.Heartbeat})
	s.codemon.RegisterSDK(mux, authn)
	s.codemon.RegisterAPI(mux, authn)
	api.New(st, s.codemon, log).Register(mux, authn)
	if s.firstPwd, err = web.Bootstrap(ctx, st, cfg.AdminPassword, time.Now()); err != nil {
		return nil, err
	}
	dash, err := web.New(web.Config{Store: st, Codemon: s.codemon, Log: log, TraceRetention: cfg.Retention, SnapshotRetention: cfg.SnapshotRetention})
	if err != nil {
		return nil, err
	}
	dash.Register(mux)

	s.httpSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	s.httpSrv.RegisterOnShutdown(s.codemon.Close)
	s.grpcSrv = grpc.NewServer(recv.GRPCOptions()...)
	recv.RegisterGRPC(s.grpcSrv)

	if s.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return nil, fmt.Errorf("--http-addr %s: %w", cfg.HTTPAddr, err)
	}
	if cfg.GRPCAddr != "" {
		if s.grpcLn, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
			return nil, fmt.Errorf("--grpc-addr %s: %w", cfg.GRPCAddr, err)
		}
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
			retention.Job{Name: "spans", Drop: s.st.DeleteSpansBefore,
				Keep: s.keep(s.cfg.Retention, func(st store.Settings) time.Duration { return st.TraceRetention })},
			retention.Job{Name: "snapshots", Drop: s.st.DeleteSnapshotsBefore,
				Keep: s.keep(s.cfg.SnapshotRetention, func(st store.Settings) time.Duration { return st.SnapshotRetention })},
			retention.Job{Name: "sessions", Drop: s.st.DeleteSessionsBefore, Keep: retention.Fixed(0)})
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
	if err := s.st.Close(); err != nil && serveErr == nil {
		serveErr = err
	}
	return serveErr
}

// keep returns how long to keep one kind of data: the retention set on the
// dashboard's settings page, or def (the flag) when none is set.
func (s *Server) keep(def time.Duration, pick func(store.Settings) time.Duration) func(context.Context) time.Duration {
	return func(ctx context.Context) time.Duration {
		set, err := s.st.Settings(ctx)
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
	secret, _, err := auth.CreateKey(ctx, s.st, auth.DefaultProject, name, scope, "", time.Now())
	return secret, err
}

// Store returns the server's store, for wiring that reads it in-process.
func (s *Server) Store() *pebble.Store { return s.st }
