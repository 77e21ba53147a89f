package tracekit_test

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os"

	"github.com/tracekit-oss/tracekit/sdk/go/tracekit"
)

// A service on net/http: the middleware wraps the whole mux, and spans are
// named after its patterns. Compiled, not run: it would listen.
func Example() {
	sdk, err := tracekit.NewSDK(&tracekit.Config{
		APIKey:      os.Getenv("TRACEKIT_API_KEY"),
		ServiceName: "users-service",
		Endpoint:    "http://localhost:4318/v1/traces",
	})
	if err != nil {
		log.Fatalf("tracekit init failed: %v", err)
	}
	defer sdk.Shutdown(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		sdk.GetCurrentSpan(r.Context()).SetTag("user.id", r.PathValue("id"))

		// Calls to other services carry the trace with the request's context.
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, "http://billing:8080/invoices", nil)
		resp, err := tracekit.HTTPClient.Do(req)
		if err != nil {
			sdk.CaptureExceptionWithContext(r.Context(), err)
			http.Error(w, "billing unavailable", http.StatusBadGateway)
			return
		}
		resp.Body.Close()
	})
	log.Fatal(http.ListenAndServe(":8080", sdk.HTTPMiddleware(mux)))
}

// A query through any database client shows up as a db.Query span under the
// request's span.
func ExampleSDK_TraceQuery() {
	var sdk *tracekit.SDK // from NewSDK; a nil SDK runs fn untraced
	ctx := context.Background()

	var name string
	err := sdk.TraceQuery(ctx, "postgresql", "SELECT name FROM users WHERE id = $1", func(ctx context.Context) error {
		name = "ada" // db.QueryRowContext(ctx, ...).Scan(&name) with a real database
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Print(err)
	}
	_ = name
}
