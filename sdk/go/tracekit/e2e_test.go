package tracekit

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// TestTwoServicesOneTrace runs the guide's backend-to-backend setup: a
// frontend's request reaches an API service, which calls a users service
// through HTTPClient with the request's context; the users service queries
// its database. Every span must reach the server in one trace, with the
// right parents, services and API keys.
func TestTwoServicesOneTrace(t *testing.T) {
	rc := newReceiver(t)
	newService := func(name, key string) *SDK {
		t.Helper()
		s, err := NewSDK(&Config{APIKey: key, ServiceName: name, Endpoint: rc.endpoint()})
		if err != nil {
			t.Fatalf("NewSDK(%s): %v", name, err)
		}
		t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
		return s
	}

	users := newService("users-service", "key-users")
	usersMux := http.NewServeMux()
	usersMux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		err := users.TraceQuery(r.Context(), "postgresql", "SELECT name FROM users WHERE id = $1", func(context.Context) error {
			return nil
		})
		if err != nil {
			t.Errorf("TraceQuery: %v", err)
		}
		_, _ = io.WriteString(w, "ada")
	})
	usersSrv := httptest.NewServer(users.HTTPMiddleware(usersMux))
	t.Cleanup(usersSrv.Close)

	api := newService("api-service", "key-api")
	apiMux := http.NewServeMux()
	apiMux.HandleFunc("GET /api/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		api.GetCurrentSpan(r.Context()).SetTag("tenant.id", "t-1")
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, usersSrv.URL+"/users/"+r.PathValue("id"), nil)
		if err != nil {
			t.Errorf("NewRequest: %v", err)
			return
		}
		resp, err := HTTPClient.Do(req)
		if err != nil {
			api.CaptureExceptionWithContext(r.Context(), err)
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		_, _ = io.Copy(w, resp.Body)
	})
	apiSrv := httptest.NewServer(api.HTTPMiddleware(apiMux))
	t.Cleanup(apiSrv.Close)

	// The frontend's span, as a browser SDK would send it.
	const traceID, frontendSpanID = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	req, _ := http.NewRequest(http.MethodGet, apiSrv.URL+"/api/users/42", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-"+frontendSpanID+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ada" {
		t.Fatalf("GET /api/users/42: %d %q", resp.StatusCode, body)
	}

	// A server span ends when its handler returns, which can be after the
	// client has the response; closing the servers waits for the handlers.
	apiSrv.Close()
	usersSrv.Close()
	for _, s := range []*SDK{api, users} {
		if err := s.Flush(context.Background()); err != nil {
			t.Fatalf("Flush: %v", err)
		}
	}

	got := map[string]receivedSpan{}
	for _, s := range rc.received() {
		if _, dup := got[s.span.Name]; dup {
			t.Errorf("two spans named %q", s.span.Name)
		}
		got[s.span.Name] = s
	}
	byName := func(name string) receivedSpan {
		t.Helper()
		s, ok := got[name]
		if !ok {
			names := make([]string, 0, len(got))
			for n := range got {
				names = append(names, n)
			}
			t.Fatalf("no span %q; got %q", name, names)
		}
		return s
	}
	apiServer := byName("GET /api/users/{id}")
	apiClient := byName("GET " + strings.TrimPrefix(usersSrv.URL, "http://"))
	usersServer := byName("GET /users/{id}")
	query := byName("db.Query")

	for _, c := range []struct {
		s            receivedSpan
		service, key string
		parent       []byte
		kind         tracepb.Span_SpanKind
	}{
		{apiServer, "api-service", "key-api", mustHex(frontendSpanID), tracepb.Span_SPAN_KIND_SERVER},
		{apiClient, "api-service", "key-api", apiServer.span.SpanId, tracepb.Span_SPAN_KIND_CLIENT},
		{usersServer, "users-service", "key-users", apiClient.span.SpanId, tracepb.Span_SPAN_KIND_SERVER},
		{query, "users-service", "key-users", usersServer.span.SpanId, tracepb.Span_SPAN_KIND_CLIENT},
	} {
		sp := c.s.span
		if hex.EncodeToString(sp.TraceId) != traceID {
			t.Errorf("%s: trace %x, want %s", sp.Name, sp.TraceId, traceID)
		}
		if hex.EncodeToString(sp.ParentSpanId) != hex.EncodeToString(c.parent) {
			t.Errorf("%s: parent %x, want %x", sp.Name, sp.ParentSpanId, c.parent)
		}
		if c.s.service != c.service || c.s.apiKey != c.key {
			t.Errorf("%s: from service %q with key %q, want %q with %q", sp.Name, c.s.service, c.s.apiKey, c.service, c.key)
		}
		if sp.Kind != c.kind {
			t.Errorf("%s: kind %v, want %v", sp.Name, sp.Kind, c.kind)
		}
	}
	if v := stringAttr(apiServer.span.Attributes, "tenant.id"); v != "t-1" {
		t.Errorf("tenant.id = %q, want t-1", v)
	}
	if v := stringAttr(apiServer.span.Attributes, "http.route"); v != "/api/users/{id}" {
		t.Errorf("http.route = %q", v)
	}
	if v := stringAttr(query.span.Attributes, "db.query.text"); v != "SELECT name FROM users WHERE id = $1" {
		t.Errorf("db.query.text = %q", v)
	}
	if v := stringAttr(query.span.Attributes, "db.system.name"); v != "postgresql" {
		t.Errorf("db.system.name = %q", v)
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
