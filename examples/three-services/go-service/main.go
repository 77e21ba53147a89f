// Command go-service is the third service of the distributed-tracing
// guide's scenario: a user service traced with the TraceKit Go SDK that
// answers GET /api/users from a SQLite database. The SDK's middleware
// continues the trace the Node.js API started (traceparent), and every
// query is a db.Query span under the request's span, with db.system.name
// "sqlite". Code monitoring is on: a capture point "users-loaded" lets a
// breakpoint set from the dashboard capture what was read.
package main

import (
	"context"
	"database/sql"
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
	_ "modernc.org/sqlite" // SQLite in pure Go: the example builds without cgo
)

func main() {
	if err := run(); err != nil {
		log.Fatal(err)
	}
}

func run() error {
	sdk, err := tracekit.NewSDK(&tracekit.Config{
		APIKey:               os.Getenv("TRACEKIT_API_KEY"),
		ServiceName:          "go-service",
		Endpoint:             os.Getenv("TRACEKIT_ENDPOINT"), // empty: http://localhost:4318/v1/traces
		Environment:          "development",
		EnableCodeMonitoring: true,
	})
	if err != nil {
		return fmt.Errorf("tracekit init: %w", err)
	}
	raw, err := openDB(os.Getenv("DB_PATH"))
	if err != nil {
		return err
	}
	defer raw.Close()

	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = "127.0.0.1:8080"
	}
	a := &app{sdk: sdk, db: sdk.WrapDB(raw, "sqlite"), snapshots: sdk.SnapshotClient()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/users", a.listUsers)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := &http.Server{Addr: addr, Handler: sdk.HTTPMiddleware(mux), ReadHeaderTimeout: 5 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	log.Printf("go-service listening on http://%s (GET /api/users)", addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return sdk.Shutdown(shutdownCtx)
}

// openDB opens the SQLite database at path (a private in-memory one when
// empty) and seeds its users table.
func openDB(path string) (*sql.DB, error) {
	dsn := "file:users?mode=memory&cache=shared"
	if path != "" {
		dsn = "file:" + path
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db.SetMaxOpenConns(1) // one writer; an in-memory database lives while a connection does
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, plan TEXT NOT NULL)`,
		`INSERT OR IGNORE INTO users VALUES (1, 'Ada Lovelace', 'ada@example.com', 'enterprise'),
			(2, 'Grace Hopper', 'grace@example.com', 'team'), (3, 'Alan Turing', 'alan@example.com', 'free')`,
	} {
		if _, err := db.Exec(q); err != nil {
			db.Close()
			return nil, fmt.Errorf("seed database: %w", err)
		}
	}
	return db, nil
}

type app struct {
	sdk       *tracekit.SDK
	db        *tracekit.DB
	snapshots *tracekit.SnapshotClient
}

type user struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Plan  string `json:"plan"`
}

// listUsers answers GET /api/users from the database.
func (a *app) listUsers(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	rows, err := a.db.QueryContext(ctx, "SELECT id, name, email, plan FROM users ORDER BY id")
	if err != nil {
		a.fail(w, r, fmt.Errorf("query users: %w", err))
		return
	}
	defer rows.Close()
	users := []user{}
	for rows.Next() {
		var u user
		if err := rows.Scan(&u.ID, &u.Name, &u.Email, &u.Plan); err != nil {
			a.fail(w, r, fmt.Errorf("read users: %w", err))
			return
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		a.fail(w, r, fmt.Errorf("read users: %w", err))
		return
	}
	a.sdk.GetCurrentSpan(ctx).SetTag("users.count", len(users))
	if len(users) > 0 {
		capture(a.snapshots, ctx, "users-loaded", map[string]any{"count": len(users), "first": users[0]})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(users)
}

// capture is the guide's one-level wrapper around the snapshot client, so
// that the capture point is reported at its caller.
func capture(c *tracekit.SnapshotClient, ctx context.Context, name string, data map[string]any) {
	c.CheckAndCaptureWithContext(ctx, name, data)
}

// fail records err on the request's span and answers 500.
func (a *app) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.sdk.CaptureExceptionWithContext(r.Context(), err)
	http.Error(w, err.Error(), http.StatusInternalServerError)
}
