// Command go-service is a small user service traced with the TraceKit Go
// SDK, following the distributed tracing guide: the SDK's middleware wraps
// every route, GET /api/users/{id} calls the service's own profile endpoint
// through tracekit.HTTPClient with the request's context, and the profile
// endpoint looks the user up in a database (here an in-memory map) inside a
// db.Query span. Each response names its trace ID.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/tracekit-oss/tracekit/sdk/go/tracekit"
)

func main() {
	sdk, err := tracekit.NewSDK(&tracekit.Config{
		APIKey:               os.Getenv("TRACEKIT_API_KEY"),
		ServiceName:          "go-service",
		Endpoint:             os.Getenv("TRACEKIT_ENDPOINT"), // empty: http://localhost:4318/v1/traces
		Environment:          "development",
		EnableCodeMonitoring: true,
	})
	if err != nil {
		log.Fatalf("tracekit init failed: %v", err)
	}

	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	app := &app{sdk: sdk, self: "http://" + addr, users: map[string]string{"1": "Ada Lovelace", "42": "Grace Hopper"}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/users/{id}", app.getUser)
	mux.HandleFunc("GET /internal/profiles/{id}", app.getProfile)
	srv := &http.Server{Addr: addr, Handler: sdk.HTTPMiddleware(mux), ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	log.Printf("go-service listening on http://%s; try curl http://%s/api/users/42", addr, addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Printf("serve: %v", err)
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := sdk.Shutdown(shutdownCtx); err != nil {
		log.Printf("tracekit shutdown: %v", err)
	}
	st := sdk.Stats()
	log.Printf("spans exported: %d, dropped: %d", st.Exported, st.Dropped)
}

type app struct {
	sdk   *tracekit.SDK
	self  string            // this service's base URL
	users map[string]string // the "database"
}

// getUser answers GET /api/users/{id} by calling the profile endpoint, as
// an API gateway calls a user service.
func (a *app) getUser(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	span := a.sdk.GetCurrentSpan(ctx)
	span.SetTag("user.id", r.PathValue("id"))
	span.SetTag("tenant.id", "acme")

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.self+"/internal/profiles/"+r.PathValue("id"), nil)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	resp, err := tracekit.HTTPClient.Do(req) // carries traceparent to the callee
	if err != nil {
		a.fail(w, r, fmt.Errorf("call profile service: %w", err))
		return
	}
	defer resp.Body.Close()
	var profile map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&profile); err != nil {
		a.fail(w, r, fmt.Errorf("decode profile: %w", err))
		return
	}
	if resp.StatusCode != http.StatusOK {
		a.reply(w, r, resp.StatusCode, profile)
		return
	}
	a.reply(w, r, http.StatusOK, map[string]string{"id": r.PathValue("id"), "name": profile["name"]})
}

// getProfile answers GET /internal/profiles/{id} from the database.
func (a *app) getProfile(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var name string
	err := a.sdk.TraceQuery(r.Context(), "postgresql", "SELECT name FROM users WHERE id = $1", func(ctx context.Context) error {
		return a.queryName(ctx, id, &name)
	})
	switch {
	case errors.Is(err, errNotFound):
		a.reply(w, r, http.StatusNotFound, map[string]string{"error": "no user " + id})
	case err != nil:
		a.fail(w, r, err)
	default:
		a.reply(w, r, http.StatusOK, map[string]string{"name": name})
	}
}

var errNotFound = errors.New("not found")

// queryName is the fake database call: it takes a little while, like a
// real one, and fails for id 0.
func (a *app) queryName(ctx context.Context, id string, name *string) error {
	select {
	case <-time.After(15 * time.Millisecond):
	case <-ctx.Done():
		return ctx.Err()
	}
	if id == "0" {
		return errors.New("connection reset by peer")
	}
	n, ok := a.users[id]
	if !ok {
		return errNotFound
	}
	*name = n
	return nil
}

// fail records err on the request's span and answers 500.
func (a *app) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.sdk.CaptureExceptionWithContext(r.Context(), err)
	a.reply(w, r, http.StatusInternalServerError, map[string]string{"error": err.Error()})
}

// reply writes body as JSON with the trace ID, to look the trace up with.
func (a *app) reply(w http.ResponseWriter, r *http.Request, status int, body map[string]string) {
	if body == nil {
		body = map[string]string{}
	}
	body["trace_id"] = a.sdk.GetCurrentSpan(r.Context()).TraceID()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}
