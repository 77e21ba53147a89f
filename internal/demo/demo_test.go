package demo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testKey = "tk_demo_0123456789"

var testNow = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// collector is an OTLP/HTTP receiver: it decodes each request with
// ptraceotlp, as the server does, and keeps what it got.
type collector struct {
	t      *testing.T
	url    string
	client *http.Client
	reply  func(w http.ResponseWriter, n int) // n counts requests from 1; nil answers 200
	got    chan int                           // request numbers, after the answer is written

	mu     sync.Mutex
	bodies [][]byte
	traces []ptrace.Traces
}

func newCollector(t *testing.T, reply func(w http.ResponseWriter, n int)) *collector {
	t.Helper()
	c := &collector{t: t, reply: reply, got: make(chan int, 1000)}
	srv := httptest.NewServer(http.HandlerFunc(c.serve))
	t.Cleanup(srv.Close)
	c.url, c.client = srv.URL+"/v1/traces", srv.Client()
	return c
}

func (c *collector) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		c.t.Errorf("got %s %s, want POST /v1/traces", r.Method, r.URL.Path)
	}
	if got := r.Header.Get("X-API-Key"); got != testKey {
		c.t.Errorf("X-API-Key = %q, want %q", got, testKey)
	}
	if got := r.Header.Get("Content-Type"); got != "application/x-protobuf" {
		c.t.Errorf("Content-Type = %q", got)
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		c.t.Errorf("read body: %v", err)
	}
	er := ptraceotlp.NewExportRequest()
	if err := er.UnmarshalProto(body); err != nil {
		c.t.Errorf("decode OTLP request: %v", err)
	}
	c.mu.Lock()
	c.bodies = append(c.bodies, body)
	c.traces = append(c.traces, er.Traces())
	n := len(c.bodies)
	c.mu.Unlock()
	if c.reply != nil {
		c.reply(w, n)
	} else {
		b, _ := ptraceotlp.NewExportResponse().MarshalProto()
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(b)
	}
	c.got <- n
}

func (c *collector) config(seed uint64) Config {
	return Config{
		Endpoint: c.url, APIKey: testKey, HTTPClient: c.client,
		Now: func() time.Time { return testNow }, Rand: rand.New(rand.NewPCG(seed, seed+1)),
	}
}

// gotSpan is a received span with its resource.
type gotSpan struct {
	service  string
	resource pcommon.Map
	ptrace.Span
}

// byTrace groups every received span by trace, checking on the way that
// each request has one ResourceSpans per service.
func (c *collector) byTrace(t *testing.T) map[pcommon.TraceID][]gotSpan {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[pcommon.TraceID][]gotSpan{}
	for _, td := range c.traces {
		seen := map[string]bool{}
		for _, rs := range td.ResourceSpans().All() {
			svc, _ := rs.Resource().Attributes().Get("service.name")
			if seen[svc.Str()] {
				t.Errorf("service %s has two ResourceSpans in one request", svc.Str())
			}
			seen[svc.Str()] = true
			for _, ss := range rs.ScopeSpans().All() {
				if ss.Scope().Name() == "" {
					t.Errorf("service %s: empty instrumentation scope", svc.Str())
				}
				for _, s := range ss.Spans().All() {
					out[s.TraceID()] = append(out[s.TraceID()], gotSpan{svc.Str(), rs.Resource().Attributes(), s})
				}
			}
		}
	}
	return out
}

func TestRunSendsValidTraces(t *testing.T) {
	c := newCollector(t, nil)
	cfg := c.config(42)
	cfg.Traces = 200
	st, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	traces := c.byTrace(t)
	spans := 0
	for _, ss := range traces {
		spans += len(ss)
	}
	if want := (Stats{Traces: 200, Spans: spans, Requests: 20}); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	if len(traces) != 200 {
		t.Fatalf("got %d distinct traces, want 200", len(traces))
	}

	services := map[string]bool{}
	keys := map[string]bool{}
	kinds := map[ptrace.SpanKind]int{}
	var errTraces, exceptions, links, outliers int
	newest := int64(0)
	oldest := testNow.Add(-spread - time.Minute).UnixNano()
	for id, ss := range traces {
		if id.IsEmpty() {
			t.Fatalf("zero trace id")
		}
		byID := map[pcommon.SpanID]gotSpan{}
		for _, s := range ss {
			if s.SpanID().IsEmpty() {
				t.Fatalf("trace %s: zero span id on %q", id, s.Name())
			}
			if _, dup := byID[s.SpanID()]; dup {
				t.Fatalf("trace %s: span id %s twice", id, s.SpanID())
			}
			byID[s.SpanID()] = s
		}
		roots, failed := 0, false
		for _, s := range ss {
			services[s.service] = true
			kinds[s.Kind()]++
			checkResource(t, s)
			for k := range s.Attributes().All() {
				keys[k] = true
			}
			start, end := int64(s.StartTimestamp()), int64(s.EndTimestamp())
			if start > end || end > testNow.UnixNano() || start < oldest {
				t.Errorf("trace %s: %s %q runs %v to %v, outside the last %v before now", id, s.service, s.Name(),
					s.StartTimestamp(), s.EndTimestamp(), spread)
			}
			newest = max(newest, end)
			if s.Status().Code() == ptrace.StatusCodeError {
				failed = true
			}
			if s.service == "search-service" && s.Name() == "search products" && end-start >= int64(2*time.Second) {
				outliers++
			}
			for _, ev := range s.Events().All() {
				if ev.Name() == "exception" {
					exceptions++
					for _, k := range []string{"exception.type", "exception.message", "exception.stacktrace"} {
						if v, ok := ev.Attributes().Get(k); !ok || v.Str() == "" {
							t.Errorf("exception event on %q lacks %s", s.Name(), k)
						}
					}
					if s.Status().Code() != ptrace.StatusCodeError {
						t.Errorf("span %q has an exception but no error status", s.Name())
					}
				}
			}
			if s.ParentSpanID().IsEmpty() {
				roots++
				continue
			}
			p, ok := byID[s.ParentSpanID()]
			if !ok {
				t.Errorf("trace %s: parent of %q is not in the trace", id, s.Name())
				continue
			}
			ps, pe := int64(p.StartTimestamp()), int64(p.EndTimestamp())
			switch {
			case s.Kind() == ptrace.SpanKindConsumer:
				// Asynchronous: starts after its producer, may outlive it.
				links++
				if start < ps || s.Links().Len() != 1 || s.Links().At(0).SpanID() != p.SpanID() || s.Links().At(0).TraceID() != id {
					t.Errorf("consumer %q must start after and link to its producer %q", s.Name(), p.Name())
				}
			case start < ps || end > pe:
				t.Errorf("trace %s: %q [%d, %d] lies outside its parent %q [%d, %d]", id, s.Name(), start, end, p.Name(), ps, pe)
			}
		}
		if roots != 1 {
			t.Errorf("trace %s has %d roots, want 1", id, roots)
		}
		if failed {
			errTraces++
		}
	}

	if len(services) < 5 {
		t.Errorf("got services %v, want at least 5", services)
	}
	if errTraces < 200*4/100 || errTraces > 200*20/100 {
		t.Errorf("%d of 200 traces have an error, want about 10%%", errTraces)
	}
	if exceptions == 0 || links == 0 || outliers == 0 {
		t.Errorf("exceptions = %d, consumer links = %d, slow searches = %d: want some of each", exceptions, links, outliers)
	}
	for _, k := range []ptrace.SpanKind{ptrace.SpanKindServer, ptrace.SpanKindClient, ptrace.SpanKindInternal, ptrace.SpanKindProducer, ptrace.SpanKindConsumer} {
		if kinds[k] == 0 {
			t.Errorf("no span of kind %v", k)
		}
	}
	for _, k := range []string{
		"http.request.method", "http.route", "url.path", "url.full", "http.response.status_code",
		"db.system.name", "db.query.text", "db.operation.name", "messaging.system", "messaging.destination.name",
		"rpc.system", "server.address", "user.id", "order.id", "tenant.id", "cache.hit",
	} {
		if !keys[k] {
			t.Errorf("no span has attribute %s", k)
		}
	}
	if newest != testNow.UnixNano() {
		t.Errorf("newest span ends at %v, want now (%v)", time.Unix(0, newest).UTC(), testNow)
	}
}

func checkResource(t *testing.T, s gotSpan) {
	t.Helper()
	want := map[string]string{"service.name": s.service, "deployment.environment.name": "demo"}
	for _, k := range []string{"service.version", "telemetry.sdk.language", "host.name"} {
		want[k] = ""
	}
	if s.service == "web-frontend" {
		delete(want, "host.name") // a browser has no host
	}
	for k, v := range want {
		got, ok := s.resource.Get(k)
		if !ok || got.Str() == "" || (v != "" && got.Str() != v) {
			t.Errorf("%s: resource %s = %q, want %q", s.service, k, got.Str(), v)
		}
	}
}

func TestRunIsDeterministic(t *testing.T) {
	a, b := newCollector(t, nil), newCollector(t, nil)
	for _, c := range []*collector{a, b} {
		if _, err := Run(t.Context(), c.config(7)); err != nil {
			t.Fatal(err)
		}
	}
	if len(a.bodies) != DefaultTraces/DefaultBatchSize || len(a.bodies) != len(b.bodies) {
		t.Fatalf("got %d and %d requests, want %d", len(a.bodies), len(b.bodies), DefaultTraces/DefaultBatchSize)
	}
	for i := range a.bodies {
		if !bytes.Equal(a.bodies[i], b.bodies[i]) {
			t.Fatalf("request %d differs between two runs with the same seed", i+1)
		}
	}
}

// writeStatus answers as the OTLP receiver does: a google.rpc.Status.
func writeStatus(w http.ResponseWriter, code int, contentType, msg string) {
	st := &status.Status{Code: 16, Message: msg}
	var b []byte
	switch contentType {
	case "application/json":
		b, _ = protojson.Marshal(st)
	case "application/x-protobuf":
		b, _ = proto.Marshal(st)
	default:
		b = []byte(msg)
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func TestRefusalBecomesError(t *testing.T) {
	tests := []struct {
		code        int
		contentType string
		msg         string
		want        []string
	}{
		{401, "application/x-protobuf", "invalid API key", []string{"401 Unauthorized", "invalid API key", "check the API key"}},
		{400, "application/x-protobuf", "all 10 spans refused: span \"x\": trace id is empty", []string{"400 Bad Request", "all 10 spans refused"}},
		{400, "application/json", "malformed OTLP body", []string{"400", "malformed OTLP body"}},
		{502, "text/plain", "upstream connect error\x1b[31m\n", []string{"502 Bad Gateway", "upstream connect error [31m"}},
	}
	for _, tt := range tests {
		t.Run(tt.want[0], func(t *testing.T) {
			c := newCollector(t, func(w http.ResponseWriter, _ int) { writeStatus(w, tt.code, tt.contentType, tt.msg) })
			st, err := Run(t.Context(), c.config(1))
			if err == nil {
				t.Fatal("Run succeeded against a refusing server")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var re *ResponseError
			if !errors.As(err, &re) || re.StatusCode != tt.code {
				t.Errorf("error %v is not a ResponseError with status %d", err, tt.code)
			}
			if st != (Stats{}) {
				t.Errorf("stats = %+v after the first request was refused", st)
			}
		})
	}
}

func TestStopsAtFirstRefusal(t *testing.T) {
	c := newCollector(t, func(w http.ResponseWriter, n int) {
		if n < 3 {
			b, _ := ptraceotlp.NewExportResponse().MarshalProto()
			_, _ = w.Write(b)
			return
		}
		writeStatus(w, 503, "application/x-protobuf", "could not store spans: retry later")
	})
	st, err := Run(t.Context(), c.config(1))
	if err == nil || !strings.Contains(err.Error(), "traces 21-30") || !strings.Contains(err.Error(), "retry later") {
		t.Errorf("err = %v, want the third batch refused with the server's message", err)
	}
	if st.Requests != 2 || st.Traces != 20 {
		t.Errorf("stats = %+v, want 2 requests and 20 traces accepted", st)
	}
}

func TestPartialSuccessIsAnError(t *testing.T) {
	c := newCollector(t, func(w http.ResponseWriter, _ int) {
		resp := ptraceotlp.NewExportResponse()
		resp.PartialSuccess().SetRejectedSpans(3)
		resp.PartialSuccess().SetErrorMessage("3 spans refused: span name is not valid UTF-8")
		b, _ := resp.MarshalProto()
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(b)
	})
	_, err := Run(t.Context(), c.config(1))
	if err == nil || !strings.Contains(err.Error(), "refused 3 of") || !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Errorf("err = %v, want the partial success reported", err)
	}
}

func TestRatePacesTraffic(t *testing.T) {
	c := newCollector(t, nil)
	cfg := c.config(3)
	cfg.Traces, cfg.Rate = 20, 100
	start := time.Now()
	st, err := Run(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != 2 || st.Traces != 20 {
		t.Errorf("stats = %+v, want 2 requests of 10", st)
	}
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Errorf("20 traces at 100/s took %v, want about 100ms", d)
	}
	// Paced traces end as they are sent, not minutes back.
	for id, ss := range c.byTrace(t) {
		var end time.Time
		for _, s := range ss {
			if e := s.EndTimestamp().AsTime(); e.After(end) {
				end = e
			}
		}
		if end.After(testNow) || end.Before(testNow.Add(-time.Second)) {
			t.Errorf("paced trace %s ends at %v, want within a second before %v", id, end, testNow)
		}
	}
}

func TestCancelStopsRun(t *testing.T) {
	c := newCollector(t, nil)
	cfg := c.config(4)
	cfg.Traces, cfg.Rate = 1000, 1 // would take 16 minutes
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-c.got
		cancel()
	}()
	st, err := Run(ctx, cfg)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	if st.Requests > 1 {
		t.Errorf("stats = %+v, want at most the first request", st)
	}
}

func TestConfigErrors(t *testing.T) {
	f := func(cfg Config, want string) {
		t.Helper()
		_, err := Run(t.Context(), cfg)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Run(%+v) error = %v, want one mentioning %q", cfg, err, want)
		}
	}
	f(Config{}, "demo endpoint")
	f(Config{Endpoint: "127.0.0.1:4318"}, "full OTLP/HTTP traces URL")
	f(Config{Endpoint: "ftp://example.com/v1/traces"}, "demo endpoint")
	f(Config{Endpoint: "http://127.0.0.1:4318/v1/traces", Traces: -1}, "demo traces -1")
	f(Config{Endpoint: "http://127.0.0.1:4318/v1/traces", Rate: -2}, "demo rate -2")
	f(Config{Endpoint: "http://127.0.0.1:4318/v1/traces", BatchSize: -1}, "demo batch size")
}

func TestUnreachableServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	endpoint := srv.URL + "/v1/traces"
	srv.Close()
	_, err := Run(t.Context(), Config{Endpoint: endpoint, Traces: 1})
	if err == nil || !strings.Contains(err.Error(), endpoint) {
		t.Errorf("err = %v, want one naming the endpoint", err)
	}
}
