package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"

	"github.com/tracekit-oss/tracekit/internal/api"
	"github.com/tracekit-oss/tracekit/internal/client"
)

// The OpenAPI document is hand-written, so it is checked both ways: every
// route the server registers under /api/v1 and /v1 is documented, every
// documented route is registered, and responses the server sends validate
// against their schemas, which allow no undocumented field.

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// routeKey is "METHOD /path/{}/...", path parameters' names dropped.
func routeKey(method, path string) string {
	return strings.ToUpper(method) + " " + pathParam.ReplaceAllString(path, "{}")
}

func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	s := start(t, nil)
	doc := loadOpenAPI(t)
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[routeKey(method, path)] = true
		}
	}
	registered := map[string]bool{}
	for _, pattern := range s.Routes() {
		method, path, ok := strings.Cut(pattern, " ")
		if !ok {
			// A pattern without a method: the OTLP receiver (POST only, it
			// answers 405 to others) and the API's 404 catch-all.
			method, path = "POST", pattern
			if pattern == "/api/" {
				continue
			}
		}
		if !strings.HasPrefix(path, "/api/v1/") && !strings.HasPrefix(path, "/v1/") {
			continue // the dashboard, health and metrics
		}
		registered[routeKey(method, path)] = true
	}
	var missing, stale []string
	for k := range registered {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !registered[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing) > 0 {
		t.Errorf("routes the server serves that openapi.json does not document:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(stale) > 0 {
		t.Errorf("routes openapi.json documents that the server does not serve:\n  %s", strings.Join(stale, "\n  "))
	}
	if len(registered) < 20 {
		t.Errorf("only %d routes found: is the route table recorded?", len(registered))
	}
}

// strict forbids undocumented fields in every object schema that lists its
// properties, so a renamed or added field fails validation.
func strict(doc *openapi3.T) {
	no := false
	seen := map[*openapi3.Schema]bool{}
	var stack []*openapi3.Schema
	push := func(r *openapi3.SchemaRef) {
		if r != nil && r.Value != nil && !seen[r.Value] {
			seen[r.Value] = true
			stack = append(stack, r.Value)
		}
	}
	for _, r := range doc.Components.Schemas {
		push(r)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, resp := range op.Responses.Map() {
				if resp.Value == nil {
					continue
				}
				for _, mt := range resp.Value.Content {
					push(mt.Schema)
				}
			}
		}
	}
	for len(stack) > 0 {
		sc := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if len(sc.Properties) > 0 && sc.AdditionalProperties.Has == nil && sc.AdditionalProperties.Schema == nil {
			sc.AdditionalProperties.Has = &no
		}
		for _, p := range sc.Properties {
			push(p)
		}
		push(sc.Items)
		push(sc.AdditionalProperties.Schema)
		for _, l := range [][]*openapi3.SchemaRef{sc.AllOf, sc.AnyOf, sc.OneOf} {
			for _, r := range l {
				push(r)
			}
		}
	}
}

// validatingTransport checks every JSON response against the document.
type validatingTransport struct {
	t      *testing.T
	router routers.Router
	mu     sync.Mutex
	seen   map[string]bool // "METHOD path status" validated
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return resp, err
	}
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		v.t.Errorf("%s %s: not in openapi.json: %v", req.Method, req.URL.Path, err)
		return resp, nil
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	rv := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: in.Options}
	rv.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), rv); err != nil {
		v.t.Errorf("%s %s → %d does not match openapi.json: %v\nbody: %.400s", req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
	v.mu.Lock()
	v.seen[fmt.Sprintf("%s %s %d", req.Method, route.Path, resp.StatusCode)] = true
	v.mu.Unlock()
	return resp, nil
}

func TestResponsesMatchOpenAPI(t *testing.T) {
	s := start(t, nil)
	doc := loadOpenAPI(t)
	strict(doc)
	doc.Servers = openapi3.Servers{{URL: s.base}}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	vt := &validatingTransport{t: t, router: router, seen: map[string]bool{}}
	hc := &http.Client{Transport: vt, Timeout: 30 * time.Second}
	c := client.New(s.base, adminKey, hc)
	ctx := context.Background()

	exp, _ := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(s.base+"/v1/traces"),
		otlptracehttp.WithHeaders(map[string]string{"X-API-Key": adminKey}))
	emit(t, provider(t, exp, "checkout"))

	do := func(method, path string, body any) map[string]any {
		t.Helper()
		var out map[string]any
		err := c.Do(ctx, method, path, body, &out)
		var apiErr *client.Error
		if err != nil && !errors.As(err, &apiErr) {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		return out
	}
	found := do("GET", "/api/v1/traces?service=checkout&lookback=1h", nil)
	traces, _ := found["traces"].([]any)
	if len(traces) == 0 {
		t.Fatalf("no trace found: %v", found)
	}
	traceID := traces[0].(map[string]any)["traceId"].(string)
	do("GET", "/api/v1/traces/"+traceID, nil)
	do("GET", "/api/v1/traces/0123456789abcdef0123456789abcdef", nil) // 404
	do("GET", "/api/v1/traces/nothex", nil)                           // 400
	// The critical path: of a trace, of none (404), of a bad ID (400).
	for _, id := range []string{traceID, "0123456789abcdef0123456789abcdef", "nothex"} {
		do("GET", "/api/v1/traces/"+id+"/critical-path", nil)
	}
	do("GET", "/api/v1/traces/compare?a="+traceID+"&b="+traceID, nil)
	do("GET", "/api/v1/traces/compare?a="+traceID+"&b=0123456789abcdef0123456789abcdef", nil) // 404
	do("GET", "/api/v1/traces/compare?a="+traceID, nil)                                       // 400
	do("GET", "/api/v1/services", nil)
	do("GET", "/api/v1/services/checkout/operations", nil)
	do("GET", "/api/v1/servicemap?lookback=1h", nil)
	do("GET", "/api/v1/servicemap?lookback=soon", nil) // 400
	// RED series of the service and of an operation; bad steps (400).
	red := do("GET", "/api/v1/services/checkout/red?lookback=1h", nil)
	if red["step"] != "30s" || sumCounts(red) == 0 {
		t.Errorf("RED series of the last hour: want 30s buckets holding the spans sent, got %.300v", red)
	}
	do("GET", "/api/v1/services/checkout/red?lookback=1h&step=1m&operation=nothing", nil)
	do("GET", "/api/v1/services/checkout/red?lookback=1h&step=15s", nil)        // 400
	do("GET", "/api/v1/services/checkout/red?lookback=24h&step=10s", nil)       // 400: 8,640 points
	pts := do("GET", "/api/v1/traces/points?service=checkout&lookback=1h", nil) // the search's scatter
	if list, _ := pts["points"].([]any); len(list) != len(traces) {
		t.Errorf("trace points: %d, want the %d traces the search found", len(list), len(traces))
	}
	do("GET", "/api/v1/traces/points?limit=10001", nil) // 400
	key := do("POST", "/api/v1/keys", map[string]any{"name": "sdk", "scope": "ingest"})
	do("POST", "/api/v1/keys", map[string]any{"name": "", "scope": "root"}) // 400
	do("GET", "/api/v1/keys", nil)
	sdkKey, _ := key["secret"].(string)
	keyID, _ := key["key"].(map[string]any)["id"].(string)

	bp := do("POST", "/api/v1/breakpoints", map[string]any{"service": "checkout", "capturePoint": "payment-failed", "condition": "order.total > 10"})
	do("POST", "/api/v1/breakpoints", map[string]any{"service": "checkout", "condition": "((("}) // 400 with a field
	bpID, _ := bp["id"].(string)
	do("GET", "/api/v1/breakpoints?service=checkout", nil)
	do("GET", "/api/v1/breakpoints/"+bpID, nil)
	do("PATCH", "/api/v1/breakpoints/"+bpID, map[string]any{"rateLimit": 5})
	do("POST", "/api/v1/breakpoints/"+bpID+"/pause", nil)
	do("POST", "/api/v1/breakpoints/"+bpID+"/resume", nil)
	do("GET", "/api/v1/services/checkout/killswitch", nil)
	do("GET", "/api/v1/services/checkout/instances", nil)
	do("GET", "/api/v1/services/checkout/capture-points", nil)

	sdk := client.New(s.base, sdkKey, hc)
	inst := "service=checkout&instance=i-1&sdk=go/test"
	var cfg map[string]any
	if err := sdk.Do(ctx, "GET", "/v1/codemon/breakpoints?"+inst, nil, &cfg); err != nil {
		t.Fatalf("poll: %v", err)
	}
	env := map[string]any{"service": "checkout", "instance": "i-1", "sdk": "go/test"}
	with := func(m map[string]any) map[string]any {
		for k, v := range env {
			m[k] = v
		}
		return m
	}
	var out map[string]any
	_ = sdk.Do(ctx, "POST", "/v1/codemon/capture-points", with(map[string]any{"points": []any{map[string]any{"name": "payment-failed", "file": "pay.go", "line": 42, "function": "main.pay"}}}), &out)
	_ = sdk.Do(ctx, "POST", "/v1/codemon/check", with(map[string]any{"breakpointId": bpID, "variables": map[string]any{"order": map[string]any{"total": 20}}}), &out)
	snap := func(id string) map[string]any {
		return map[string]any{"breakpointId": bpID, "capturePoint": "payment-failed", "file": "pay.go", "line": 42, "function": "main.pay",
			"time": time.Now().UTC().Format(time.RFC3339Nano), "traceId": traceID, "variables": map[string]any{"n": id}}
	}
	_ = sdk.Do(ctx, "POST", "/v1/codemon/snapshots", with(map[string]any{"snapshots": []any{snap("1"), snap("2")},
		"logs": []any{map[string]any{"breakpointId": bpID, "capturePoint": "payment-failed", "time": time.Now().UTC().Format(time.RFC3339Nano), "message": "hello"}}}), &out)
	_ = sdk.Do(ctx, "POST", "/v1/codemon/snapshots", "not an object", &out) // 400

	snaps := do("GET", "/api/v1/snapshots?service=checkout&lookback=1h", nil)
	list, _ := snaps["snapshots"].([]any)
	if len(list) < 2 {
		t.Fatalf("snapshots: %v", snaps)
	}
	a, b := list[0].(map[string]any)["id"].(string), list[1].(map[string]any)["id"].(string)
	do("GET", "/api/v1/snapshots/"+a, nil)
	do("GET", "/api/v1/snapshots/compare?a="+a+"&b="+b, nil)
	do("GET", "/api/v1/logs?service=checkout&lookback=1h", nil)
	do("PUT", "/api/v1/services/checkout/killswitch", map[string]any{"enabled": true})
	do("DELETE", "/api/v1/breakpoints/"+bpID, nil)
	do("DELETE", "/api/v1/keys/"+keyID, nil)
	do("GET", "/api/v1/openapi.json", nil)

	vt.mu.Lock()
	defer vt.mu.Unlock()
	if len(vt.seen) < 28 {
		t.Errorf("only %d responses validated: %v", len(vt.seen), vt.seen)
	}
}

// sumCounts adds up the counts of a RED series body.
func sumCounts(body map[string]any) float64 {
	var n float64
	points, _ := body["points"].([]any)
	for _, p := range points {
		c, _ := p.(map[string]any)["count"].(float64)
		n += c
	}
	return n
}
