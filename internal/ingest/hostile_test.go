package ingest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/tracekit-oss/tracekit/internal/testsupport"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/tracekit-oss/tracekit/internal/ingest"
	"github.com/tracekit-oss/tracekit/internal/reqbody"
)

// nestedJSON is the same request as OTLP/JSON, nested depth levels.
func nestedJSON(depth int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"07070707070707070707070707070707","spanId":"0808080808080808","name":"deep","attributes":[{"key":"deep","value":`)
	for i := 0; i < depth; i++ {
		b.WriteString(`{"arrayValue":{"values":[`)
	}
	b.WriteString(`{"stringValue":"x"}`)
	for i := 0; i < depth; i++ {
		b.WriteString(`]}}`)
	}
	b.WriteString(`}]}]}]}]}`)
	return b.Bytes()
}

func TestNestingDepthIsBounded(t *testing.T) {
	w := &memWriter{}
	r := newReceiver(t, w, ingest.Config{MaxBodyBytes: 64 << 20, MaxDecodedBytes: 64 << 20, Budget: reqbody.NewBudget(1<<30, 0)})
	f := func(name, ctype, enc string, body []byte, want int, wantMsg string) {
		t.Helper()
		rec := post(r, "ingest-a", ctype, enc, body)
		if rec.Code != want {
			t.Fatalf("%s: status %d, want %d: %q", name, rec.Code, want, rec.Body.String())
		}
		if wantMsg != "" && !strings.Contains(rec.Body.String(), wantMsg) {
			t.Fatalf("%s: answer %q does not say %q", name, rec.Body.String(), wantMsg)
		}
	}
	proto, js := "application/x-protobuf", "application/json"
	f("proto at the limit", proto, "", testsupport.NestedOTLP(32, false), 200, "")
	f("proto one deeper", proto, "", testsupport.NestedOTLP(33, false), 400, "nested too deep")
	f("proto a million deep", proto, "", testsupport.NestedOTLP(1_000_000, false), 400, "nested too deep")
	f("proto a million deep, gzip", proto, "gzip", gz(t, testsupport.NestedOTLP(1_000_000, false)), 400, "nested too deep")
	f("proto a million deep in the deprecated scope spans", proto, "", testsupport.NestedOTLPDeprecated(1_000_000), 400, "nested too deep")
	f("json at the limit", js, "", nestedJSON(32), 200, "")
	f("json one deeper", js, "", nestedJSON(33), 400, "nested too deep")
	f("json a million deep", js, "", nestedJSON(1_000_000), 400, "nested too deep")
	f("json a million deep, gzip", js, "gzip", gz(t, nestedJSON(1_000_000)), 413, "decompression bomb")
	f("json brackets only", js, "", bytes.Repeat([]byte("["), 1_000_000), 400, "nested too deep")
	if n := w.count("a"); n != 2 {
		t.Fatalf("stored %d spans, want the 2 within the limit", n)
	}
}

func TestGzipBombRefusedEarly(t *testing.T) {
	budget := reqbody.NewBudget(256<<20, 0)
	r := newReceiver(t, &memWriter{}, ingest.Config{Budget: budget})
	bomb := gz(t, make([]byte, 60<<20)) // 60 MiB of zeros in about 60 KB
	rec := post(r, "ingest-a", "application/x-protobuf", "gzip", bomb)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(statusMessage(t, rec), "decompression bomb") {
		t.Fatalf("bomb: %d %q", rec.Code, rec.Body.String())
	}
	if u := budget.Used(); u != 0 {
		t.Fatalf("budget still charged %d bytes after the request", u)
	}
}

// A body that trickles holds only the bytes it has sent, and a project
// holding its whole share leaves room for another project.
func TestBudgetChargedAsBytesArriveAndShared(t *testing.T) {
	const total = 8 << 20
	budget := reqbody.NewBudget(total, total/2)
	w := &memWriter{}
	r := newReceiver(t, w, ingest.Config{Budget: budget})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, pr)
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-API-Key", "ingest-a")
	req.ContentLength = 16 << 20 // declares 16 MiB, sends a few bytes
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	if _, err := pw.Write([]byte{0x0a}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for budget.Used() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if u := budget.Used(); u == 0 || u > 1<<20 {
		t.Fatalf("a trickling body declaring 16 MiB is charged %d bytes; want what it sent, rounded to a read chunk", u)
	}
	// Another project still gets in while project a is charged.
	rec := post(r, "admin-b", "application/x-protobuf", "", protoBody(t, traces(3)))
	if rec.Code != 200 {
		t.Fatalf("project b refused while a trickles: %d", rec.Code)
	}
	pw.CloseWithError(io.ErrUnexpectedEOF)
	<-done
	for budget.Used() != 0 && time.Now().Before(deadline.Add(10*time.Second)) {
		time.Sleep(5 * time.Millisecond) // the handler sees the abort after the client does
	}
	if u := budget.Used(); u != 0 {
		t.Fatalf("budget still charged %d bytes", u)
	}

	// A project whose requests hold its share is refused; the other is not.
	if !budget.Acquire("a", total/2) {
		t.Fatal("could not take project a's share")
	}
	if rec := post(r, "ingest-a", "application/x-protobuf", "", protoBody(t, traces(3))); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("project a beyond its share: %d", rec.Code)
	}
	if rec := post(r, "admin-b", "application/x-protobuf", "", protoBody(t, traces(3))); rec.Code != 200 {
		t.Fatalf("project b while a holds its share: %d", rec.Code)
	}
	budget.Release("a", total/2)
}

func TestRequestAndSpanLimits(t *testing.T) {
	w := &memWriter{}
	r := newReceiver(t, w, ingest.Config{MaxSpansPerRequest: 10, Spans: ingest.SpanLimits{MaxAttributes: 5, MaxEvents: 2, MaxLinks: 2}})
	if rec := post(r, "ingest-a", "application/x-protobuf", "", protoBody(t, traces(11))); rec.Code != 400 || !strings.Contains(statusMessage(t, rec), "too many spans") {
		t.Fatalf("11 spans over a limit of 10: %d %q", rec.Code, rec.Body.String())
	}
	j, _ := ptraceotlp.NewExportRequestFromTraces(traces(11)).MarshalJSON()
	if rec := post(r, "ingest-a", "application/json", "", j); rec.Code != 400 || !strings.Contains(rec.Body.String(), "too many spans") {
		t.Fatalf("11 JSON spans over a limit of 10: %d %q", rec.Code, rec.Body.String())
	}
	td := traces(4)
	spans := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	for i := 0; i < 6; i++ {
		spans.At(0).Attributes().PutInt(fmt.Sprint("a", i), int64(i))
	}
	for i := 0; i < 3; i++ {
		spans.At(1).Events().AppendEmpty().SetName("e")
		spans.At(2).Links().AppendEmpty().SetTraceID(pcommon.TraceID{9})
	}
	rec := post(r, "ingest-a", "application/x-protobuf", "", protoBody(t, td))
	if rec.Code != 200 {
		t.Fatalf("partial: %d", rec.Code)
	}
	resp := ptraceotlp.NewExportResponse()
	if err := resp.UnmarshalProto(rec.Body.Bytes()); err != nil {
		t.Fatal(err)
	}
	if got := resp.PartialSuccess().RejectedSpans(); got != 3 {
		t.Fatalf("rejected %d spans, want 3 (attributes, events, links): %s", got, resp.PartialSuccess().ErrorMessage())
	}
	if msg := resp.PartialSuccess().ErrorMessage(); !strings.Contains(msg, "limit of 5") {
		t.Fatalf("message %q does not name the limit", msg)
	}
	if n := w.count("a"); n != 1 {
		t.Fatalf("stored %d spans, want 1", n)
	}
}

func TestArrayAndMapValuesAreTruncated(t *testing.T) {
	w := &memWriter{}
	r := newReceiver(t, w, ingest.Config{})
	td := traces(1)
	sp := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0)
	arr := sp.Attributes().PutEmptySlice("big.array")
	for i := 0; i < 10_000; i++ {
		arr.AppendEmpty().SetStr(strings.Repeat("x", 100))
	}
	m := sp.Attributes().PutEmptyMap("big.map")
	for i := 0; i < 10_000; i++ {
		m.PutEmptySlice(fmt.Sprint("k", i)).AppendEmpty().SetStr("quote\" and \\ and \n")
	}
	if rec := post(r, "ingest-a", "application/x-protobuf", "", protoBody(t, td)); rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.spans["a"][0].Attributes {
		if !strings.HasPrefix(a.Key, "big.") {
			continue
		}
		if len(a.Value.Str) > 64<<10 || len(a.Value.Str) < 60<<10 {
			t.Errorf("%s: %d bytes stored, want just under 64 KiB", a.Key, len(a.Value.Str))
		}
		if !json.Valid([]byte(a.Value.Str)) {
			t.Errorf("%s: truncated value is not valid JSON: %.80q…", a.Key, a.Value.Str)
		}
	}
}

func TestInvalidUTF8JSONHasAMessage(t *testing.T) {
	r := newReceiver(t, &memWriter{}, ingest.Config{})
	body := []byte("{\"resourceSpans\":[\xff\xfe]}")
	rec := post(r, "ingest-a", "application/json", "", body)
	if rec.Code != 400 {
		t.Fatalf("status %d", rec.Code)
	}
	var st struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Message == "" {
		t.Fatalf("400 without a message: %q (%v)", rec.Body.String(), err)
	}
}

// Spans a store limit refuses are reported as a partial success (the rest
// are stored), or a 400 when none is left.
func TestStoreLimitIsAPartialSuccess(t *testing.T) {
	w := &memWriter{refuseService: "checkout"}
	r := newReceiver(t, w, ingest.Config{})
	td := traces(2)
	other := td.ResourceSpans().AppendEmpty()
	other.Resource().Attributes().PutStr("service.name", "known")
	sp := other.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{5})
	sp.SetSpanID(pcommon.SpanID{5})
	rec := post(r, "ingest-a", "application/x-protobuf", "", protoBody(t, td))
	resp := ptraceotlp.NewExportResponse()
	if err := resp.UnmarshalProto(rec.Body.Bytes()); rec.Code != 200 || err != nil {
		t.Fatalf("status %d: %v", rec.Code, err)
	}
	if resp.PartialSuccess().RejectedSpans() != 2 || !strings.Contains(resp.PartialSuccess().ErrorMessage(), "limit of 1 services") {
		t.Fatalf("partial success %d %q", resp.PartialSuccess().RejectedSpans(), resp.PartialSuccess().ErrorMessage())
	}
	if n := w.count("a"); n != 1 {
		t.Fatalf("stored %d, want 1", n)
	}
	rec = post(r, "ingest-a", "application/x-protobuf", "", protoBody(t, traces(2)))
	if rec.Code != 400 || !strings.Contains(statusMessage(t, rec), "limit of 1 services") {
		t.Fatalf("all refused: %d %q", rec.Code, rec.Body.String())
	}
}

// A request that alone would exceed a project's share of the budget can
// never be taken: it is answered 413, not 429, so that no exporter retries
// it forever.
func TestRequestBeyondAShareIs413(t *testing.T) {
	r := newReceiver(t, &memWriter{}, ingest.Config{Budget: reqbody.NewBudget(1<<20, 0)})
	body := protoBody(t, traces(400)) // about 40 KB: its decoding is charged 10 times that
	for len(body)*11 < 512<<10 {
		body = protoBody(t, traces(len(body)/50))
	}
	rec := post(r, "ingest-a", "application/x-protobuf", "", body)
	if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(statusMessage(t, rec), "smaller batches") {
		t.Fatalf("%d-byte body over a 512 KiB share: %d %q", len(body), rec.Code, rec.Body.String())
	}
}
