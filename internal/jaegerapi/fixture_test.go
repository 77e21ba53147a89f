package jaegerapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// The fixed set of traces the tests read, at a fixed time.
var (
	fixtureNow = time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	// t0 is when the first trace starts.
	t0 = fixtureNow.Add(-time.Hour)

	checkoutID = mustTraceID("4bf92f3577b34da6a3ce929d0e0e4736")
	// jobID is a 64-bit ID, as Jaeger clients once made them.
	jobID    = mustTraceID("00000000000000000123456789abcdef")
	healthID = mustTraceID("0af7651916cd43dd8448eb211c80319c")
	secretID = mustTraceID("5b8efff798038103d269b633813fc60c")
)

const (
	adminKey  = "tk_jaeger_test_admin_0123456789"
	ingestKey = "tk_jaeger_test_ingest_0123456789"
	otherKey  = "tk_jaeger_test_other_project_0123"
	// otherProject holds one trace that the default project's key must
	// not see, and its key nothing of the default project.
	otherProject = "other"
)

func mustTraceID(s string) telemetry.TraceID {
	id, err := parseTraceID(s)
	if err != nil {
		panic(err)
	}
	return id
}

func sid(s string) telemetry.SpanID {
	id, err := telemetry.ParseSpanID(s)
	if err != nil {
		panic(err)
	}
	return id
}

func at(d time.Duration) int64 { return t0.Add(d).UnixNano() }

func str(k, v string) telemetry.Attribute {
	return telemetry.Attribute{Key: k, Value: telemetry.StringValue(v)}
}

// fixtureSpans returns the default project's traces: a checkout across
// three services (server, client, error status, an exception event, a
// link, every attribute type), a 64-bit-ID job of one service with an
// internal and an unspecified span, and a short health check.
func fixtureSpans() []telemetry.Span {
	frontend := &telemetry.Resource{ServiceName: "frontend", Attributes: []telemetry.Attribute{
		str("service.name", "frontend"), str("region", "eu-west"), str("host.name", "web-1"),
	}}
	payments := &telemetry.Resource{ServiceName: "payments", Attributes: []telemetry.Attribute{
		str("service.name", "payments"), {Key: "service.instance.count", Value: telemetry.IntValue(3)},
	}}
	// The same process as payments, decoded apart: it must share its ID.
	payments2 := &telemetry.Resource{ServiceName: "payments", Attributes: payments.Attributes}
	worker := &telemetry.Resource{ServiceName: "worker", Attributes: []telemetry.Attribute{str("service.name", "worker")}}
	return []telemetry.Span{
		{
			TraceID: checkoutID, SpanID: sid("00f067aa0ba902b7"), Name: "GET /checkout", Kind: telemetry.KindServer,
			StartUnixNano: at(0), EndUnixNano: at(120*time.Millisecond + 456*time.Microsecond + 789),
			Attributes: []telemetry.Attribute{str("http.request.method", "GET"), {Key: "http.response.status_code", Value: telemetry.IntValue(502)}, str("user.id", "u-42")},
			Resource:   frontend, ScopeName: "tracekit-test", ScopeVersion: "1.0.0", TraceState: "vendor=1",
		},
		{
			TraceID: checkoutID, SpanID: sid("1000000000000001"), ParentSpanID: sid("00f067aa0ba902b7"), Name: "charge", Kind: telemetry.KindClient,
			StartUnixNano: at(10 * time.Millisecond), EndUnixNano: at(100 * time.Millisecond),
			Attributes: []telemetry.Attribute{str("peer.service", "payments")}, Resource: frontend, ScopeName: "tracekit-test",
		},
		{
			TraceID: checkoutID, SpanID: sid("2000000000000002"), ParentSpanID: sid("1000000000000001"), Name: "POST /charge", Kind: telemetry.KindServer,
			StartUnixNano: at(12 * time.Millisecond), EndUnixNano: at(98 * time.Millisecond),
			StatusCode: telemetry.StatusError, StatusMessage: "card declined",
			Attributes: []telemetry.Attribute{{Key: "error", Value: telemetry.StringValue("overridden by the status")}, {Key: "http.response.status_code", Value: telemetry.IntValue(402)}},
			Events: []telemetry.Event{
				{Name: "exception", TimeUnixNano: at(97 * time.Millisecond), Attributes: []telemetry.Attribute{str("exception.type", "CardError"), str("exception.message", "card declined")}},
				{Name: "retry", TimeUnixNano: at(50 * time.Millisecond), Attributes: []telemetry.Attribute{str("event", "named by its attribute"), {Key: "attempt", Value: telemetry.IntValue(2)}}},
			},
			Links:    []telemetry.Link{{TraceID: jobID, SpanID: sid("3000000000000003")}},
			Resource: payments,
		},
		{
			TraceID: checkoutID, SpanID: sid("2000000000000003"), ParentSpanID: sid("2000000000000002"), Name: "SELECT accounts", Kind: telemetry.KindClient,
			StartUnixNano: at(20 * time.Millisecond), EndUnixNano: at(60 * time.Millisecond), StatusCode: telemetry.StatusOK,
			Attributes: []telemetry.Attribute{
				str("db.system", "postgresql"), {Key: "db.rows", Value: telemetry.IntValue(1)},
				{Key: "retry.ratio", Value: telemetry.DoubleValue(0.25)}, {Key: "cache.hit", Value: telemetry.BoolValue(false)},
				{Key: "db.tables", Value: telemetry.Value{Type: telemetry.TypeArray, Str: `["accounts","cards"]`}},
				{Key: "db.digest", Value: telemetry.Value{Type: telemetry.TypeBytes, Str: "\x01\x02\xff"}},
			},
			Resource: payments2,
		},
		{
			TraceID: jobID, SpanID: sid("3000000000000003"), Name: "process job", Kind: telemetry.KindConsumer,
			StartUnixNano: at(5 * time.Minute), EndUnixNano: at(5*time.Minute + 2*time.Second),
			Attributes: []telemetry.Attribute{str("messaging.system", "kafka")}, Resource: worker,
		},
		{
			TraceID: jobID, SpanID: sid("3000000000000004"), ParentSpanID: sid("3000000000000003"), Name: "step", Kind: telemetry.KindInternal,
			StartUnixNano: at(5*time.Minute + time.Second), EndUnixNano: at(5*time.Minute + 1500*time.Millisecond), Resource: worker,
		},
		{
			TraceID: jobID, SpanID: sid("3000000000000005"), ParentSpanID: sid("3000000000000003"), Name: "legacy step", Kind: telemetry.KindUnspecified,
			StartUnixNano: at(5*time.Minute + 1600*time.Millisecond), EndUnixNano: at(5*time.Minute + 1700*time.Millisecond), Resource: worker,
		},
		{
			TraceID: healthID, SpanID: sid("4000000000000004"), Name: "GET /health", Kind: telemetry.KindServer,
			StartUnixNano: at(10 * time.Minute), EndUnixNano: at(10*time.Minute + 2*time.Millisecond),
			Attributes: []telemetry.Attribute{str("http.request.method", "GET"), {Key: "http.response.status_code", Value: telemetry.IntValue(200)}},
			Resource:   frontend,
		},
	}
}

// fixture is a store holding the fixed traces, and a real HTTP server on
// a loopback port serving the Jaeger API (and the native one, for the
// benchmarks) over it.
type fixture struct {
	st   *pebble.Store
	srv  *httptest.Server
	base string // srv.URL + Prefix
}

// serviceMapStore gives the store a fixed service map, so that the
// /dependencies answer does not depend on how a backend aggregates it.
type serviceMapStore struct {
	Store
	edges []store.ServiceEdge
}

func (s serviceMapStore) ServiceMap(_ context.Context, project string, start, end time.Time) ([]store.ServiceEdge, error) {
	if project != auth.DefaultProject || !start.Before(t0) || end.Before(t0) {
		return nil, nil
	}
	return s.edges, nil
}

var fixtureEdges = []store.ServiceEdge{
	{Caller: "frontend", Callee: "payments", CalleeKind: store.NodeService, Calls: 7, Errors: 1},
	{Caller: "payments", Callee: "postgresql", CalleeKind: store.NodeDatabase, Calls: 5},
	// The same pair under two kinds: one Jaeger link.
	{Caller: "payments", Callee: "postgresql", CalleeKind: store.NodeExternal, Calls: 2},
	{Caller: "worker", Callee: "kafka", CalleeKind: store.NodeMessaging, Calls: 1},
}

func newFixture(tb testing.TB, withServiceMap bool) *fixture {
	tb.Helper()
	st, err := pebble.Open(tb.TempDir(), pebble.Options{Now: func() time.Time { return fixtureNow }})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	ctx := context.Background()
	if _, err := auth.Bootstrap(ctx, st, adminKey, fixtureNow); err != nil {
		tb.Fatal(err)
	}
	if _, _, err := auth.CreateKey(ctx, st, auth.DefaultProject, "ingest", store.ScopeIngest, ingestKey, fixtureNow); err != nil {
		tb.Fatal(err)
	}
	if err := st.CreateProject(ctx, store.Project{ID: otherProject, Name: "Other", CreatedAt: fixtureNow}); err != nil {
		tb.Fatal(err)
	}
	if _, _, err := auth.CreateKey(ctx, st, otherProject, "other admin", store.ScopeAdmin, otherKey, fixtureNow); err != nil {
		tb.Fatal(err)
	}
	if err := st.WriteSpans(ctx, auth.DefaultProject, fixtureSpans()); err != nil {
		tb.Fatal(err)
	}
	secret := []telemetry.Span{{
		TraceID: secretID, SpanID: sid("5000000000000005"), Name: "GET /secret", Kind: telemetry.KindServer,
		StartUnixNano: at(time.Minute), EndUnixNano: at(time.Minute + time.Millisecond),
		Resource: &telemetry.Resource{ServiceName: "secret-svc"},
	}}
	if err := st.WriteSpans(ctx, otherProject, secret); err != nil {
		tb.Fatal(err)
	}
	var reader Store = st
	if withServiceMap {
		reader = serviceMapStore{Store: st, edges: fixtureEdges}
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := New(reader, log)
	h.now = func() time.Time { return fixtureNow }
	mux := http.NewServeMux()
	authn := auth.NewAuthenticator(st)
	h.Register(mux, authn)
	api.New(st, nil, log).Register(mux, authn)
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return &fixture{st: st, srv: srv, base: srv.URL + Prefix}
}

// get sends a GET with the key as X-API-Key (none if key is "") and
// returns the status and body.
func (f *fixture) get(tb testing.TB, path, key string) (int, []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, f.base+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	return do(tb, req)
}

func do(tb testing.TB, req *http.Request) (int, []byte) {
	tb.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("%s: Content-Type %q", req.URL, ct)
	}
	return resp.StatusCode, b
}
