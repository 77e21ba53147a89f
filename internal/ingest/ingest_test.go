package ingest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/ingest"
	"github.com/tracekit-oss/tracekit/internal/reqbody"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// memWriter keeps written spans; block, when set, holds writes until closed;
// refuseService, when set, is refused as a store limit would.
type memWriter struct {
	mu            sync.Mutex
	spans         map[string][]telemetry.Span
	block         chan struct{}
	entered       chan struct{}
	refuseService string
}

func (m *memWriter) WriteSpans(ctx context.Context, project string, spans []telemetry.Span) error {
	if m.block != nil {
		m.entered <- struct{}{}
		<-m.block
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.spans == nil {
		m.spans = map[string][]telemetry.Span{}
	}
	refused := 0
	for _, s := range spans {
		if m.refuseService != "" && s.Resource.ServiceName == m.refuseService {
			refused++
			continue
		}
		m.spans[project] = append(m.spans[project], s)
	}
	if refused > 0 {
		return &store.PartialWriteError{Refused: refused, Reason: "limit of 1 services reached; spans of new service \"" + m.refuseService + "\" refused"}
	}
	return nil
}

func (m *memWriter) count(project string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.spans[project])
}

// keys is a fixed key table: secret → principal.
type keys map[string]auth.Principal

func (k keys) Authenticate(_ context.Context, secret string) (auth.Principal, error) {
	if secret == "" {
		return auth.Principal{}, auth.ErrMissingKey
	}
	if secret == "revoked" {
		return auth.Principal{}, auth.ErrRevokedKey
	}
	p, ok := k[secret]
	if !ok {
		return auth.Principal{}, auth.ErrUnknownKey
	}
	return p, nil
}

var testKeys = keys{"ingest-a": {Project: "a", Scope: store.ScopeIngest}, "admin-b": {Project: "b", Scope: store.ScopeAdmin}}

func newReceiver(t testing.TB, w *memWriter, cfg ingest.Config) *ingest.Receiver {
	t.Helper()
	r, err := ingest.New(w, testKeys, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func traces(n int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "checkout")
	ss := rs.ScopeSpans().AppendEmpty()
	for i := 0; i < n; i++ {
		sp := ss.Spans().AppendEmpty()
		sp.SetTraceID(pcommon.TraceID{1, 2, 3, byte(i + 1)})
		sp.SetSpanID(pcommon.SpanID{4, 5, byte(i + 1)})
		sp.SetName("GET /cart")
		sp.SetStartTimestamp(1_700_000_000_000_000_000)
		sp.SetEndTimestamp(1_700_000_000_100_000_000)
		sp.Attributes().PutStr("user.id", "u1")
	}
	return td
}

func protoBody(t testing.TB, td ptrace.Traces) []byte {
	b, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func post(h http.Handler, key, ctype, enc string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if enc != "" {
		req.Header.Set("Content-Encoding", enc)
	}
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func statusMessage(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	var st status.Status
	if err := proto.Unmarshal(rec.Body.Bytes(), &st); err != nil {
		t.Fatalf("error body is not a google.rpc.Status: %v (%q)", err, rec.Body.String())
	}
	return st.Message
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestAccepts(t *testing.T) {
	w := &memWriter{}
	r := newReceiver(t, w, ingest.Config{})
	good := protoBody(t, traces(3))
	jsonBody, _ := ptraceotlp.NewExportRequestFromTraces(traces(2)).MarshalJSON()

	rec := post(r, "ingest-a", "application/x-protobuf", "", good)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/x-protobuf" {
		t.Fatalf("proto: %d %q", rec.Code, rec.Body)
	}
	rec = post(r, "ingest-a", "application/x-protobuf", "gzip", gz(t, good))
	if rec.Code != 200 {
		t.Fatalf("gzip proto: %d %q", rec.Code, rec.Body)
	}
	rec = post(r, "admin-b", "application/json; charset=utf-8", "", jsonBody)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("json: %d %q", rec.Code, rec.Body)
	}
	if w.count("a") != 6 || w.count("b") != 2 {
		t.Errorf("stored a=%d b=%d, want 6 and 2", w.count("a"), w.count("b"))
	}
	// OTLP/JSON IDs are hex, not base64: check one made it through intact.
	w.mu.Lock()
	got := w.spans["b"][0]
	w.mu.Unlock()
	if got.TraceID.String() != "01020301000000000000000000000000" || got.Service() != "checkout" {
		t.Errorf("json span = %s %s", got.TraceID, got.Service())
	}
}

func TestPartialSuccess(t *testing.T) {
	w := &memWriter{}
	r := newReceiver(t, w, ingest.Config{})
	td := traces(3)
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(1).SetSpanID(pcommon.SpanID{})
	rec := post(r, "ingest-a", "application/x-protobuf", "", protoBody(t, td))
	if rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	resp := ptraceotlp.NewExportResponse()
	if err := resp.UnmarshalProto(rec.Body.Bytes()); err != nil {
		t.Fatal(err)
	}
	if resp.PartialSuccess().RejectedSpans() != 1 || !strings.Contains(resp.PartialSuccess().ErrorMessage(), "span id is empty") {
		t.Errorf("partial success = %d %q", resp.PartialSuccess().RejectedSpans(), resp.PartialSuccess().ErrorMessage())
	}
	if w.count("a") != 2 {
		t.Errorf("stored %d spans, want 2", w.count("a"))
	}
}

// twoLetters is n bytes of a and b at random: gzip shrinks it about 7 times,
// well within the ratio a bomb exceeds.
func twoLetters(n int) []byte {
	b := make([]byte, n)
	x := uint64(88172645463325252)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = 'a' + byte(x&1)
	}
	return b
}

func TestBadInput(t *testing.T) {
	good := protoBody(t, traces(1))
	badUTF8 := traces(1)
	badUTF8.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutStr("note", "caf\xe9")
	zeroTrace := traces(1)
	zeroTrace.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).SetTraceID(pcommon.TraceID{})
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write(make([]byte, 8<<20))
	zw.Close()

	f := func(name, key, ctype, enc string, body []byte, wantCode int, wantMsg string) {
		t.Helper()
		w := &memWriter{}
		r := newReceiver(t, w, ingest.Config{MaxBodyBytes: 1 << 20, MaxDecodedBytes: 4 << 20})
		rec := post(r, key, ctype, enc, body)
		if rec.Code != wantCode {
			t.Errorf("%s: status %d, want %d (%q)", name, rec.Code, wantCode, rec.Body)
			return
		}
		if msg := statusMessage(t, rec); !strings.Contains(msg, wantMsg) {
			t.Errorf("%s: message %q, want it to contain %q", name, msg, wantMsg)
		}
		if w.count("a") != 0 {
			t.Errorf("%s: stored spans", name)
		}
	}
	f("no key", "", "application/x-protobuf", "", good, 401, "missing API key")
	f("unknown key", "nope", "application/x-protobuf", "", good, 401, "unknown API key")
	f("revoked key", "revoked", "application/x-protobuf", "", good, 401, "revoked")
	f("wrong content type", "ingest-a", "text/plain", "", good, 415, "unsupported Content-Type")
	f("no content type", "ingest-a", "", "", good, 415, "unsupported Content-Type")
	f("malformed proto", "ingest-a", "application/x-protobuf", "", []byte("\xff\xff\xff\xff garbage"), 400, "malformed OTLP protobuf")
	f("empty body is an empty request", "ingest-a", "application/x-protobuf", "", nil, 200, "")
	f("too large", "ingest-a", "application/x-protobuf", "", make([]byte, 2<<20), 413, "exceeds the limit")
	f("gzip bomb", "ingest-a", "application/x-protobuf", "gzip", bomb.Bytes(), 413, "decompression bomb")
	f("decompressed too large", "ingest-a", "application/x-protobuf", "gzip", gz(t, twoLetters(5<<20)), 413, "decompressed body exceeds")
	f("not gzip", "ingest-a", "application/x-protobuf", "gzip", good, 400, "not valid gzip")
	f("unknown encoding", "ingest-a", "application/x-protobuf", "br", good, 415, "Content-Encoding")
	f("zero trace id", "ingest-a", "application/x-protobuf", "", protoBody(t, zeroTrace), 400, "trace id is empty")
	f("invalid utf-8", "ingest-a", "application/x-protobuf", "", protoBody(t, badUTF8), 400, "UTF-8")
}

func TestBadJSON(t *testing.T) {
	f := func(body string, wantCode int, wantMsg string) {
		t.Helper()
		w := &memWriter{}
		r := newReceiver(t, w, ingest.Config{})
		rec := post(r, "ingest-a", "application/json", "", []byte(body))
		if rec.Code != wantCode {
			t.Fatalf("%s: status %d, want %d (%q)", body, rec.Code, wantCode, rec.Body)
		}
		if wantMsg != "" && !strings.Contains(rec.Body.String(), wantMsg) {
			t.Errorf("%s: body %q, want %q", body, rec.Body, wantMsg)
		}
	}
	f(`{"resourceSpans": [`, 400, "malformed OTLP json")
	f(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz","spanId":"0102030405060708","name":"x"}]}]}]}`, 400, "malformed OTLP json")
	f(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"00000000000000000000000000000000","spanId":"0102030405060708","name":"x"}]}]}]}`, 400, "trace id is empty")
	f(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"x"}]}]}]}`, 200, "")
}

func TestScopeAndMethod(t *testing.T) {
	r := newReceiver(t, &memWriter{}, ingest.Config{})
	req := httptest.NewRequest(http.MethodGet, "/v1/traces", nil)
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", rec.Code)
	}
}

func TestOverloadAnswers429(t *testing.T) {
	w := &memWriter{block: make(chan struct{}), entered: make(chan struct{}, 16)}
	body := protoBody(t, traces(50))
	// Room for exactly two requests in flight: each holds its body and
	// ten times that for decoding (and a byte each to see the end).
	budget := reqbody.NewBudget(int64(22*len(body)+2), int64(22*len(body)+2))
	r := newReceiver(t, w, ingest.Config{MaxBodyBytes: int64(len(body)), Budget: budget})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if rec := post(r, "ingest-a", "application/x-protobuf", "", body); rec.Code != 200 {
				t.Errorf("held request: %d", rec.Code)
			}
		}()
	}
	<-w.entered
	<-w.entered
	rec := post(r, "ingest-a", "application/x-protobuf", "", body)
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Errorf("third request: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	close(w.block)
	wg.Wait()
	if rec := post(r, "ingest-a", "application/x-protobuf", "", body); rec.Code != 200 {
		t.Errorf("after the load: %d", rec.Code)
	}
}
