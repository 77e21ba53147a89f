package tracekit

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// frameworkCase is one request to a framework app and the span it must make.
type frameworkCase struct {
	method, target string
	header         map[string]string
	wantName       string
	wantRoute      string // "" for none
	wantStatus     int    // 0 for none
	wantError      bool
	wantException  string // exception.message, "" for no exception event
	wantPanic      any    // the value the request must panic with
}

// checkFramework sends each case to h and checks the span it exported.
func checkFramework(t *testing.T, s *SDK, exp *tracetest.InMemoryExporter, h http.Handler, cases []frameworkCase) {
	t.Helper()
	for _, c := range cases {
		exp.Reset()
		req := httptest.NewRequest(c.method, c.target, nil)
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		func() {
			defer func() {
				if v := recover(); v != c.wantPanic {
					t.Errorf("%s %s: panic %v, want %v", c.method, c.target, v, c.wantPanic)
				}
			}()
			h.ServeHTTP(rec, req)
		}()
		sp := onlySpan(t, endedSpans(t, s, exp), c.wantName)
		if sp.SpanKind != trace.SpanKindServer {
			t.Errorf("%s: kind %v", c.wantName, sp.SpanKind)
		}
		want := map[string]any{"http.request.method": c.method, "url.path": req.URL.Path}
		if c.wantRoute != "" {
			want["http.route"] = c.wantRoute
		}
		if c.wantStatus != 0 {
			want["http.response.status_code"] = int64(c.wantStatus)
			if rec.Code != c.wantStatus {
				t.Errorf("%s: response %d, span says %d", c.wantName, rec.Code, c.wantStatus)
			}
		} else if v, ok := attr(sp.Attributes, "http.response.status_code"); ok {
			t.Errorf("%s: http.response.status_code = %v, want none", c.wantName, v)
		}
		wantAttrs(t, sp.Attributes, want)
		if (sp.Status.Code == codes.Error) != c.wantError {
			t.Errorf("%s: status %v, want error = %v", c.wantName, sp.Status, c.wantError)
		}
		if c.wantException != "" {
			ev := exceptionEvent(t, sp)
			wantAttrs(t, ev, map[string]any{"exception.message": c.wantException})
			if c.wantPanic != nil {
				st, _ := attr(ev, "exception.stacktrace")
				if !strings.Contains(st.AsString(), "panicky") {
					t.Errorf("%s: stack trace does not reach the handler:\n%s", c.wantName, st.AsString())
				}
			}
		}
		if tp, ok := c.header["traceparent"]; ok && !strings.Contains(tp, sp.SpanContext.TraceID().String()) {
			t.Errorf("%s: trace %s does not continue %s", c.wantName, sp.SpanContext.TraceID(), tp)
		}
	}
}

// panicky is a handler body that panics; the stack trace must name it.
func panicky() { panic("kaboom") }

func TestGinMiddleware(t *testing.T) {
	gin.SetMode(gin.TestMode)
	s, exp := newTestSDK(t, nil)

	r := gin.New()
	r.Use(s.GinMiddleware())
	r.GET("/users/:id", func(c *gin.Context) {
		s.GetCurrentSpan(c.Request.Context()).SetTag("user.id", c.Param("id"))
		c.String(http.StatusOK, "ok")
	})
	r.GET("/fail", func(c *gin.Context) {
		_ = c.Error(errors.New("db down"))
		c.String(http.StatusInternalServerError, "fail")
	})
	r.GET("/bad", func(c *gin.Context) { c.Status(http.StatusBadRequest) })
	r.GET("/panic", func(c *gin.Context) { panicky() })

	tp := "00-" + testTraceID + "-" + testSpanID + "-01"
	checkFramework(t, s, exp, r, []frameworkCase{
		{method: "GET", target: "/users/7", header: map[string]string{"traceparent": tp},
			wantName: "GET /users/:id", wantRoute: "/users/:id", wantStatus: 200},
		{method: "GET", target: "/fail", wantName: "GET /fail", wantRoute: "/fail", wantStatus: 500,
			wantError: true, wantException: "db down"},
		{method: "GET", target: "/bad", wantName: "GET /bad", wantRoute: "/bad", wantStatus: 400},
		{method: "GET", target: "/missing", wantName: "GET /missing", wantStatus: 404},
		{method: "GET", target: "/panic", wantName: "GET /panic", wantRoute: "/panic",
			wantError: true, wantException: "panic: kaboom", wantPanic: "kaboom"},
	})

	// With Gin's Recovery in front, as gin.Default() has it, the panic
	// becomes a 500 (written after the span ended) and the span still holds
	// the exception.
	withRecovery := gin.New()
	withRecovery.Use(gin.RecoveryWithWriter(discard{}), s.GinMiddleware())
	withRecovery.GET("/panic", func(c *gin.Context) { panicky() })
	checkFramework(t, s, exp, withRecovery, []frameworkCase{
		{method: "GET", target: "/panic", wantName: "GET /panic", wantRoute: "/panic",
			wantError: true, wantException: "panic: kaboom"},
	})

	// The tag set on the request's span is exported.
	exp.Reset()
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/users/9", nil))
	wantAttrs(t, onlySpan(t, endedSpans(t, s, exp), "GET /users/:id").Attributes, map[string]any{"user.id": "9"})
}

func TestEchoMiddleware(t *testing.T) {
	s, exp := newTestSDK(t, nil)

	e := echo.New()
	e.Use(s.EchoMiddleware())
	e.GET("/users/:id", func(c echo.Context) error {
		return c.String(http.StatusOK, "ok")
	})
	e.GET("/fail", func(c echo.Context) error {
		return errors.New("db down") // Echo's error handler makes it a 500
	})
	e.GET("/teapot", func(c echo.Context) error {
		return echo.NewHTTPError(http.StatusTeapot, "short and stout")
	})
	e.GET("/unavailable", func(c echo.Context) error {
		return c.NoContent(http.StatusServiceUnavailable)
	})
	e.GET("/panic", func(c echo.Context) error { panicky(); return nil })

	tp := "00-" + testTraceID + "-" + testSpanID + "-01"
	checkFramework(t, s, exp, e, []frameworkCase{
		{method: "GET", target: "/users/7", header: map[string]string{"traceparent": tp},
			wantName: "GET /users/:id", wantRoute: "/users/:id", wantStatus: 200},
		{method: "GET", target: "/fail", wantName: "GET /fail", wantRoute: "/fail", wantStatus: 500,
			wantError: true, wantException: "db down"},
		{method: "GET", target: "/teapot", wantName: "GET /teapot", wantRoute: "/teapot", wantStatus: 418,
			wantException: "code=418, message=short and stout"},
		{method: "GET", target: "/unavailable", wantName: "GET /unavailable", wantRoute: "/unavailable",
			wantStatus: 503, wantError: true},
		{method: "GET", target: "/panic", wantName: "GET /panic", wantRoute: "/panic",
			wantError: true, wantException: "panic: kaboom", wantPanic: "kaboom"},
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
