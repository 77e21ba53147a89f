package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/tracekit-oss/tracekit/internal/server"
	"github.com/tracekit-oss/tracekit/internal/store"
)

func TestParseCORSOrigins(t *testing.T) {
	f := func(in string, want []string, wantErr string) {
		t.Helper()
		got, err := server.ParseCORSOrigins(in)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%q: %v, want an error naming %q", in, err, wantErr)
			}
			return
		}
		if err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	f("", nil, "")
	f("https://app.example.com", []string{"https://app.example.com"}, "")
	f(" http://localhost:3000 , HTTPS://App.Example.com/ ", []string{"http://localhost:3000", "https://app.example.com"}, "")
	f("app.example.com", nil, `"app.example.com"`)
	f("https://app.example.com/path", nil, "/path")
	f("ftp://x", nil, "ftp://x")
	f("*", nil, `"*"`)
	f("https://user@app.example.com", nil, "user@")
}

// A page on a configured origin can send spans with an ingest key; other
// origins and wider keys are refused; clients that are not browsers are
// not affected.
func TestCORSIntake(t *testing.T) {
	const page = "http://localhost:3000"
	s := start(t, func(c *server.Config) { c.CORSOrigins = []string{page} })
	_, ingestKey, err := s.client(adminKey).CreateKey(context.Background(), "browser", store.ScopeIngest)
	if err != nil {
		t.Fatal(err)
	}
	td := ptrace.NewTraces()
	sp := td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	sp.SetTraceID(pcommon.TraceID{1})
	sp.SetSpanID(pcommon.SpanID{1})
	body, _ := ptraceotlp.NewExportRequestFromTraces(td).MarshalJSON()
	do := func(method, origin, key string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		var rd io.Reader = bytes.NewReader(body)
		if method == http.MethodOptions {
			rd = nil
		}
		req, _ := http.NewRequest(method, s.base+"/v1/traces", rd)
		req.Header.Set("Content-Type", "application/json")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	preflight := map[string]string{"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-api-key,traceparent"}

	resp, _ := do(http.MethodOptions, page, "", preflight)
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != page ||
		!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "X-API-Key") || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "traceparent") {
		t.Errorf("preflight from %s: %d %v", page, resp.StatusCode, resp.Header)
	}
	resp, msg := do(http.MethodOptions, "https://evil.example", "", preflight)
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Access-Control-Allow-Origin") != "" || !strings.Contains(msg, "--cors-origins") {
		t.Errorf("preflight from an origin not configured: %d %v %s", resp.StatusCode, resp.Header, msg)
	}
	resp, _ = do(http.MethodOptions, page, "", map[string]string{"Access-Control-Request-Method": "DELETE"})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("preflight for DELETE: %d", resp.StatusCode)
	}
	resp, msg = do(http.MethodPost, page, ingestKey, nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != page {
		t.Errorf("spans from %s with an ingest key: %d %s %v", page, resp.StatusCode, msg, resp.Header)
	}
	resp, msg = do(http.MethodPost, page, adminKey, nil)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(msg, "ingest key") {
		t.Errorf("spans from %s with an admin key: %d %s", page, resp.StatusCode, msg)
	}
	resp, _ = do(http.MethodPost, page, "", nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("spans from %s without a key: %d", page, resp.StatusCode)
	}
	resp, _ = do(http.MethodPost, "https://evil.example", ingestKey, nil)
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("spans from an origin not configured: %d", resp.StatusCode)
	}
	resp, msg = do(http.MethodPost, "", adminKey, nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("spans from a server (no Origin) with an admin key: %d %s", resp.StatusCode, msg)
	}
}
