package e2e_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/tracekit-oss/tracekit/internal/client"
	"github.com/tracekit-oss/tracekit/internal/server"
	"github.com/tracekit-oss/tracekit/internal/store/clickhouse/chtest"
	"github.com/tracekit-oss/tracekit/internal/store/postgres/pgtest"
	"github.com/tracekit-oss/tracekit/internal/testsupport"
	"github.com/tracekit-oss/tracekit/sdk/go/protocol"
	"github.com/tracekit-oss/tracekit/sdk/go/tracekit"
)

// backends are the PostgreSQL and ClickHouse servers that replicas share,
// started by the first test that needs them (startBackends) and stopped
// after the last test (stoppingBackends).
var backends struct {
	once sync.Once
	pg   *pgtest.Server
	ch   *chtest.Server
	err  error
}

// startBackends starts PostgreSQL and ClickHouse, once per test binary.
func startBackends(tb testing.TB) (*pgtest.Server, *chtest.Server) {
	tb.Helper()
	backends.once.Do(func() {
		var wg sync.WaitGroup
		var pgErr, chErr error
		wg.Go(func() { backends.pg, pgErr = pgtest.Start() })
		wg.Go(func() { backends.ch, chErr = chtest.Start() })
		wg.Wait()
		backends.err = errors.Join(pgErr, chErr)
	})
	if backends.err != nil {
		tb.Fatalf("replicas share a PostgreSQL and a ClickHouse server, which did not start: %v", backends.err)
	}
	return backends.pg, backends.ch
}

// stoppingBackends runs the tests, then stops the backends if a test
// started them.
type stoppingBackends struct{ *testing.M }

func (m stoppingBackends) Run() int {
	defer func() {
		if backends.pg != nil {
			backends.pg.Stop()
		}
		if backends.ch != nil {
			backends.ch.Stop()
		}
	}()
	return m.M.Run()
}

// startReplicas starts two servers on the same new PostgreSQL and
// ClickHouse databases, as replicas behind a load balancer are deployed.
func startReplicas(tb testing.TB) (a, b *tracekitServer) {
	tb.Helper()
	pg, ch := startBackends(tb)
	pgURL, chURL := pg.NewDatabase(tb), ch.NewDatabase(tb)
	shared := func(c *server.Config) {
		c.Storage, c.StorageURL = "clickhouse", chURL
		c.Metadata, c.MetadataURL = "postgres", pgURL
	}
	return startServer(tb, shared), startServer(tb, shared)
}

// TestReplicas runs two servers on shared databases and checks that a
// client may talk to either: what one was told, the other serves.
func TestReplicas(t *testing.T) {
	a, b := startReplicas(t)

	t.Run("spans written through A are read through B", func(t *testing.T) {
		for name, s := range map[string]*tracekitServer{"A": a, "B": b} {
			if code := status(t, s.base+"/readyz"); code != http.StatusOK {
				t.Errorf("GET /readyz of %s: %d, want 200", name, code)
			}
		}
		traceID, batch := otlpBatch(t, "replica-ingest", 3)
		postOTLP(t, a, batch)
		waitSpans(t, b, traceID, 3)
	})

	t.Run("changes made through one replica reach SDKs streaming from the other", func(t *testing.T) {
		onB, _ := startSDK(t, b, "replica-stream", nil)
		waitStats(t, onB, "the stream from B", func(s tracekit.CodeMonitoringStats) bool { return s.Streaming })
		a.createBreakpoint(t, map[string]any{"service": "replica-stream", "capturePoint": "checkout"})
		start := time.Now()
		waitWithin(t, onB, "the breakpoint created through A, on the SDK streaming from B",
			func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 1 })
		t.Logf("breakpoint created through A: on the SDK streaming from B %v after A's answer", time.Since(start).Round(time.Microsecond))

		onA, _ := startSDK(t, a, "replica-switch", nil)
		waitStats(t, onA, "the stream from A", func(s tracekit.CodeMonitoringStats) bool { return s.Streaming })
		b.do(t, http.MethodPut, "/api/v1/services/replica-switch/killswitch", map[string]bool{"enabled": true}, nil)
		start = time.Now()
		waitWithin(t, onA, "the kill switch flipped through B, on the SDK streaming from A",
			func(s tracekit.CodeMonitoringStats) bool { return s.KillSwitch })
		t.Logf("kill switch flipped through B: on the SDK streaming from A %v after B's answer", time.Since(start).Round(time.Microsecond))
	})

	t.Run("a breakpoint's rate limit holds across replicas and SDKs", func(t *testing.T) {
		const service, perMinute, hits = "replica-limit", 10, 30
		onA, upA := startSDKBehind(t, a, service)
		onB, upB := startSDKBehind(t, b, service)
		id := a.createBreakpoint(t, map[string]any{"service": service, "capturePoint": "limit", "rateLimit": perMinute})
		for _, sdk := range []*tracekit.SDK{onA, onB} {
			waitStats(t, sdk, "the breakpoint", func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 1 })
		}
		// The limit counts per minute of the clock: keep all hits in one.
		if left := time.Until(time.Now().Truncate(time.Minute).Add(time.Minute)); left < 10*time.Second {
			t.Logf("waiting %v for the next minute, so that all hits fall in one", left.Round(time.Millisecond))
			time.Sleep(left)
		}
		ctx := context.Background()
		for i := range hits {
			for _, sdk := range []*tracekit.SDK{onA, onB} {
				sdk.SnapshotClient().CheckAndCaptureWithContext(ctx, "limit", map[string]any{"i": i})
			}
		}
		sa, sb := onA.SnapshotClient().Stats(), onB.SnapshotClient().Stats()
		captured := sa.Captures + sb.Captures
		if captured <= perMinute {
			t.Fatalf("the SDKs queued %d snapshots of %d hits (stats %+v, %+v); the test needs more than %d to reach the server's limit",
				captured, 2*hits, sa, sb, perMinute)
		}
		var accepted int
		var refusals []string
		eventually(t, "the answers to the uploads", func() bool {
			answeredA, acceptedA, errorsA := upA.result()
			answeredB, acceptedB, errorsB := upB.result()
			accepted, refusals = acceptedA+acceptedB, append(errorsA, errorsB...)
			return answeredA+answeredB == int(captured)
		})
		for name, s := range map[string]*tracekitServer{"A": a, "B": b} {
			if n := len(s.snapshots(t, id)); n != accepted || n > perMinute {
				t.Errorf("%d snapshots through %s, want the %d accepted and at most %d", n, name, accepted, perMinute)
			}
		}
		if accepted != perMinute || len(refusals) == 0 || !strings.Contains(strings.Join(refusals, "\n"), "rate limit of 10 per minute is reached") {
			t.Errorf("of %d snapshots uploaded, %d accepted; refusals %q; want %d accepted and the rest refused for the rate limit",
				captured, accepted, refusals, perMinute)
		}
		t.Logf("%d hits on 2 SDKs and 2 replicas: %d queued by the SDKs, %d accepted, refused with %q",
			2*hits, captured, accepted, refusals)
	})

	t.Run("the same batch through both replicas is stored once", func(t *testing.T) {
		traceID, batch := otlpBatch(t, "replica-retry", 4)
		postOTLP(t, a, batch)
		postOTLP(t, b, batch) // an exporter's retry, through another replica
		for _, s := range []*tracekitServer{a, b} {
			if n := spans(t, s, traceID); n != 4 {
				t.Errorf("trace read through %s: %d spans, want the 4 of the batch once", s.base, n)
			}
		}
	})
}

// BenchmarkReplicaPropagation measures, with two servers on shared
// databases, the time from the answer of server A's API to a breakpoint
// change until an SDK streaming from server B has it: a creation or a
// deletion, each a trial. Run about 50:
//
//	go test -run '^$' -bench Replica -benchtime 25x ./e2e/
func BenchmarkReplicaPropagation(b *testing.B) {
	srvA, srvB := startReplicas(b)
	sdk, _ := startSDK(b, srvB, "replica-bench", nil)
	waitStats(b, sdk, "the stream", func(s tracekit.CodeMonitoringStats) bool { return s.Streaming })
	lat := make([]time.Duration, 0, 2*b.N)
	for b.Loop() {
		id := srvA.createBreakpoint(b, map[string]any{"service": "replica-bench", "capturePoint": "checkout"})
		start := time.Now()
		waitStats(b, sdk, "the breakpoint", func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 1 })
		lat = append(lat, time.Since(start))
		srvA.do(b, http.MethodDelete, "/api/v1/breakpoints/"+id, nil, nil)
		start = time.Now()
		waitStats(b, sdk, "the deletion", func(s tracekit.CodeMonitoringStats) bool { return s.Breakpoints == 0 })
		lat = append(lat, time.Since(start))
	}
	reportLatency(b, lat)
}

// waitWithin waits for cond as waitStats does, within a deadline generous
// enough for a busy machine: the figure that matters is logged, not
// asserted.
func waitWithin(tb testing.TB, sdk *tracekit.SDK, what string, cond func(tracekit.CodeMonitoringStats) bool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testsupport.Timeout(10*time.Second))
	defer cancel()
	if err := sdk.SnapshotClient().WaitFor(ctx, cond); err != nil {
		tb.Fatalf("waiting for %s: %v; stats %+v", what, err, sdk.SnapshotClient().Stats())
	}
}

// status answers the status code of GET url.
func status(tb testing.TB, url string) int {
	tb.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		tb.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// otlpBatch builds an OTLP/HTTP request body of one trace of n spans of
// service, and returns the trace's ID with it.
func otlpBatch(tb testing.TB, service string, n int) (string, []byte) {
	tb.Helper()
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	ss := rs.ScopeSpans().AppendEmpty()
	var traceID pcommon.TraceID
	_, _ = rand.Read(traceID[:])
	now := time.Now()
	var parent pcommon.SpanID
	for i := range n {
		sp := ss.Spans().AppendEmpty()
		var id pcommon.SpanID
		_, _ = rand.Read(id[:])
		sp.SetTraceID(traceID)
		sp.SetSpanID(id)
		sp.SetParentSpanID(parent)
		sp.SetName("step")
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Duration(i) * time.Millisecond)))
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(now.Add(time.Duration(n+1) * time.Millisecond)))
		parent = id
	}
	body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		tb.Fatal(err)
	}
	return traceID.String(), body
}

// postOTLP sends an OTLP/HTTP batch to s, as an exporter does.
func postOTLP(tb testing.TB, s *tracekitServer, body []byte) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+"/v1/traces", bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-API-Key", adminKey)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		tb.Fatalf("POST %s/v1/traces: %v", s.base, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("POST %s/v1/traces: %s %q", s.base, resp.Status, msg)
	}
}

// spans is the number of spans of a trace that s serves; 0 while it has
// none.
func spans(tb testing.TB, s *tracekitServer, traceID string) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := s.api.Trace(ctx, traceID)
	if e, ok := errors.AsType[*client.Error](err); ok && e.Status == http.StatusNotFound {
		return 0
	}
	if err != nil {
		tb.Fatalf("GET trace %s from %s: %v", traceID, s.base, err)
	}
	return len(tr.Spans)
}

// waitSpans waits until s serves the trace with n spans.
func waitSpans(tb testing.TB, s *tracekitServer, traceID string, n int) {
	tb.Helper()
	eventually(tb, "the trace through "+s.base, func() bool { return spans(tb, s, traceID) >= n })
	if got := spans(tb, s, traceID); got != n {
		tb.Fatalf("trace %s through %s: %d spans, want %d", traceID, s.base, got, n)
	}
}

// uploads records an SDK's snapshot uploads and the server's answers.
type uploads struct {
	mu       sync.Mutex
	answered int // snapshots in the uploads answered
	accepted int
	errors   []string // why the server refused some
}

// record notes the answer to an upload of n snapshots.
func (u *uploads) record(n int, r protocol.UploadResponse) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.answered += n
	u.accepted += r.Accepted
	u.errors = append(u.errors, r.Errors...)
}

// result returns what record noted.
func (u *uploads) result() (answered, accepted int, errors []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.answered, u.accepted, slices.Clone(u.errors)
}

// sentKey carries the number of snapshots of an upload from the proxy's
// handler to its ModifyResponse.
type sentKey struct{}

// startSDKBehind starts an SDK whose code monitoring talks to s through a
// proxy that records its uploads and their answers: the SDK counts only
// what the server accepted.
func startSDKBehind(tb testing.TB, s *tracekitServer, service string) (*tracekit.SDK, *uploads) {
	tb.Helper()
	target, err := url.Parse(s.base)
	if err != nil {
		tb.Fatal(err)
	}
	up := &uploads{}
	tr := &http.Transport{}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = tr
	rp.ModifyResponse = func(resp *http.Response) error {
		n, ok := resp.Request.Context().Value(sentKey{}).(int)
		if !ok || resp.StatusCode != http.StatusAccepted {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		var r protocol.UploadResponse
		if err := json.Unmarshal(body, &r); err != nil {
			tb.Errorf("answer to an upload: %q: %v", body, err)
		}
		up.record(n, r)
		return nil
	}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == protocol.PathSnapshots {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			if r.Header.Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					tb.Errorf("upload: %v", err)
					return
				}
				body, _ = io.ReadAll(zr)
			}
			var req protocol.UploadRequest
			if err := json.Unmarshal(body, &req); err != nil {
				tb.Errorf("upload %q: %v", body, err)
			}
			r = r.WithContext(context.WithValue(r.Context(), sentKey{}, len(req.Snapshots)))
		}
		rp.ServeHTTP(w, r)
	}))
	// Registered before the SDK's: it closes after the SDK has stopped.
	tb.Cleanup(func() {
		proxy.Close()
		tr.CloseIdleConnections()
	})
	sdk, _ := startSDK(tb, s, service, func(c *tracekit.Config) { c.CodeMonitoringEndpoint = proxy.URL })
	waitStats(tb, sdk, "the stream through the proxy", func(s tracekit.CodeMonitoringStats) bool { return s.Streaming })
	return sdk, up
}
