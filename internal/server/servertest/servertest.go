// Package servertest starts a TraceKit server for a test, on loopback ports
// chosen by the system, as net/http/httptest starts an HTTP server. It is
// for tests only: the server's own tests, the browser tests of the
// dashboard and the end-to-end tests use it.
package servertest

import (
	"context"
	"log/slog"
	"sync"
	"testing"

	"github.com/tracekit-oss/tracekit/internal/server"
	"github.com/tracekit-oss/tracekit/internal/testsupport"
)

// AdminKey is the admin API key of the default project that Start seeds.
const AdminKey = "tk_test_admin_key_0123456789"

// Server is a server.Server serving on loopback ports for one test.
type Server struct {
	*server.Server
	// Base is the URL of the HTTP listener, as "http://127.0.0.1:port".
	Base string
	// Log holds what the server logged; a test that fails prints it.
	Log *testsupport.LogBuffer

	stop func()
}

// Start starts a server with its data in a temporary directory, HTTP and
// OTLP/gRPC on loopback ports, AdminKey seeded and no fsync; configure, if
// not nil, changes that configuration first. The server stops when the
// test ends, or earlier by Stop.
func Start(tb testing.TB, configure func(*server.Config)) *Server {
	tb.Helper()
	cfg := server.DefaultConfig()
	cfg.DataDir, cfg.HTTPAddr, cfg.GRPCAddr = tb.TempDir(), "127.0.0.1:0", "127.0.0.1:0"
	cfg.SeedAPIKey, cfg.Sync = AdminKey, false
	if configure != nil {
		configure(&cfg)
	}
	logs := &testsupport.LogBuffer{}
	// Registered first, so it runs last: after the server has stopped.
	tb.Cleanup(func() {
		if out := logs.String(); tb.Failed() && out != "" {
			tb.Logf("server log:\n%s", out)
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.New(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		cancel()
		tb.Fatalf("start server: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	s := &Server{Server: srv, Base: "http://" + srv.HTTPAddr(), Log: logs}
	s.stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("serve: %v", err)
		}
	})
	tb.Cleanup(s.stop)
	return s
}

// Stop stops the server and waits until it has closed its store, for a
// test of what clients do when the server goes away. Later calls do
// nothing.
func (s *Server) Stop() { s.stop() }
