package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"time"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/internal/demo"
	"github.com/tracekit-oss/tracekit/internal/server"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/waterfall"
	"github.com/tracekit-oss/tracekit/internal/web"
)

func runServer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d := server.DefaultConfig()
	f := newFlags("server", stderr)
	data := f.string("data", d.DataDir, "data directory of the embedded store")
	storage := f.string("storage", "pebble", "trace store: pebble (embedded, in --data) or clickhouse (--storage-url)")
	storageURL := f.string("storage-url", "", "ClickHouse HTTP URL with the database, e.g. http://127.0.0.1:8123/tracekit")
	metadata := f.string("metadata", "pebble", "metadata store (projects, keys, users, breakpoints): pebble (embedded, in --data) or postgres (--metadata-url)")
	metadataURL := f.string("metadata-url", "", "PostgreSQL URL, e.g. postgres://tracekit@127.0.0.1:5432/tracekit")
	httpAddr := f.string("http-addr", d.HTTPAddr, "listen address for OTLP/HTTP, the API and the dashboard")
	grpcAddr := f.string("grpc-addr", d.GRPCAddr, "listen address for OTLP/gRPC (empty: off)")
	ret := f.duration("retention", d.Retention, "how long spans are kept")
	snapRet := f.duration("snapshot-retention", d.SnapshotRetention, "how long code-monitoring snapshots and logpoint lines are kept")
	maxBody := f.int("max-body", int(d.MaxBodyBytes), "largest OTLP/HTTP request body in bytes")
	fsync := f.bool("fsync", d.Sync, "fsync every write (survive power loss, not only crashes)")
	withDemo := f.bool("demo", false, "send demo traffic to this server once it is up and print a trace")
	corsOrigins := f.string("cors-origins", "", "comma-separated origins (https://app.example.com) whose pages may send spans to /v1/traces, with ingest keys only (empty: none)")
	proxies := f.string("trusted-proxies", "", "comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-Proto and X-Forwarded-For are believed (empty: none)")
	l := d.Limits
	inflight := f.int("max-inflight-bytes", int(l.MaxInFlightBytes), "memory budget of request bodies being read and decoded; one project may hold half")
	spansPerReq := f.int("max-spans-per-request", l.MaxSpansPerRequest, "most spans in one OTLP request")
	maxAttrs := f.int("max-attributes", l.MaxAttributes, "most attributes on a span, resource, event or link (the span is refused beyond)")
	valueDepth := f.int("max-value-depth", l.MaxValueDepth, "deepest nesting of arrays and maps in an attribute value")
	minRate := f.int("min-body-rate", int(l.MinBodyRate), "slowest accepted request body, bytes/s averaged after its first 10s (0: no minimum)")
	bodyTimeout := f.duration("body-timeout", l.BodyTimeout, "longest time a request body may take to arrive")
	writeTimeout := f.duration("write-timeout", l.WriteTimeout, "longest time to write a response (SSE streams excepted)")
	maxConns := f.int("max-conns", l.MaxConns, "most open connections per listener (kept below the file limit)")
	maxConnsIP := f.int("max-conns-per-ip", l.MaxConnsPerIP, "most open connections per listener from one client address")
	maxStreams := f.int("max-streams", l.MaxStreams, "most open code-monitoring SSE streams")
	maxStreamsKey := f.int("max-streams-per-key", l.MaxStreamsPerKey, "most open code-monitoring SSE streams per API key")
	maxServices := f.int("max-services", l.MaxServices, "most services in one project (spans of new services are refused beyond)")
	maxOps := f.int("max-operations", l.MaxOperations, "most operation names of one service (spans with new names are refused beyond)")
	minFree := f.int("min-free-disk", int(l.MinFreeDisk), "free bytes on the data directory's filesystem under which writes are answered 503 until space is back")
	if err := f.parse(args); err != nil {
		return err
	}
	trusted, err := web.ParseTrustedProxies(*proxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	origins, err := server.ParseCORSOrigins(*corsOrigins)
	if err != nil {
		return fmt.Errorf("--cors-origins: %w", err)
	}
	cfg := server.Config{
		DataDir: *data, Storage: *storage, StorageURL: *storageURL, Metadata: *metadata, MetadataURL: *metadataURL, HTTPAddr: *httpAddr, GRPCAddr: *grpcAddr, Retention: *ret,
		MaxBodyBytes: int64(*maxBody), Sync: *fsync, SeedAPIKey: os.Getenv("TRACEKIT_API_KEY"),
		RetentionInterval: d.RetentionInterval, SnapshotRetention: *snapRet, Heartbeat: d.Heartbeat,
		AdminPassword: os.Getenv("TRACEKIT_ADMIN_PASSWORD"), TrustedProxies: trusted, CORSOrigins: origins,
		Limits: server.Limits{
			MaxInFlightBytes: int64(*inflight), MaxSpansPerRequest: *spansPerReq, MaxAttributes: *maxAttrs,
			MaxValueDepth: *valueDepth, MinBodyRate: int64(*minRate), BodyTimeout: *bodyTimeout, WriteTimeout: *writeTimeout,
			MaxConns: *maxConns, MaxConnsPerIP: *maxConnsIP, MaxStreams: *maxStreams, MaxStreamsPerKey: *maxStreamsKey,
			MaxServices: *maxServices, MaxOperations: *maxOps, MinFreeDisk: int64(*minFree),
		},
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	base := "http://" + srv.HTTPAddr()
	log.Info("tracekit server started", "http", base, "grpc", srv.GRPCAddr(), "data", cfg.DataDir)
	if k := srv.FirstAdminKey(); k != "" {
		fmt.Fprintf(stdout, "\nFirst start: created project \"default\" and its admin key (shown only once, keep it):\n\n    %s\n\n", k)
	}
	if pw := srv.FirstAdminPassword(); pw != "" {
		fmt.Fprintf(stdout, "Dashboard: %s/ - sign in as \"admin\" with this password (shown only once, keep it):\n\n    %s\n\n", base, pw)
	}
	fmt.Fprintf(stdout, "OTLP/HTTP endpoint: %s/v1/traces    OTLP/gRPC: %s    API: %s/api/v1\n", base, srv.GRPCAddr(), base)
	if *withDemo {
		adminKey := srv.FirstAdminKey()
		if adminKey == "" {
			adminKey = "$TRACEKIT_API_KEY"
		}
		go showDemo(ctx, srv, base, adminKey, stdout, log)
	}
	return srv.Serve(ctx)
}

// showDemo sends demo traffic to the server and prints one of its traces.
func showDemo(ctx context.Context, srv *server.Server, base, adminKey string, stdout io.Writer, log *slog.Logger) {
	key, err := srv.MintKey(ctx, "demo traffic", store.ScopeIngest)
	if err != nil {
		log.Error("demo", "err", err)
		return
	}
	stats, err := demo.Run(ctx, demo.Config{Endpoint: base + "/v1/traces", APIKey: key, Traces: 60, Rand: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))})
	if err != nil {
		log.Error("demo", "err", err)
		return
	}
	st := srv.Store().Traces
	found, err := st.FindTraces(ctx, "default", store.TraceQuery{Service: "api-gateway", Operation: "GET /api/users", Limit: 1})
	if err != nil || len(found) == 0 {
		log.Error("demo: find a trace", "err", err)
		return
	}
	spans, err := st.Trace(ctx, "default", found[0].TraceID)
	if err != nil {
		log.Error("demo: read trace", "err", err)
		return
	}
	fmt.Fprintf(stdout, "\nDemo: sent %d traces (%d spans) from several services. One of them:\n\n", stats.Traces, stats.Spans)
	_ = waterfall.Render(stdout, api.TraceJSON{TraceID: found[0].TraceID.String(), Spans: api.SpansJSON(spans)}, waterfall.Options{Width: 100})
	fmt.Fprintf(stdout, "\nRead it through the API with an admin key:\n    curl -H \"X-API-Key: %s\" '%s/api/v1/traces?%s'\n    TRACEKIT_API_KEY=%s go run ./cmd/tracekit trace show --server %s %s\n\n",
		adminKey, base, url.Values{"service": {"api-gateway"}, "limit": {"5"}}.Encode(), adminKey, base, found[0].TraceID)
}
