package tracekit_test

// This file holds the Go code of the reference guides (distributed tracing
// and code monitoring) with only the import path and the endpoint changed.
// It compiles only while the SDK offers the API those guides teach.

import (
	"context"
	"log"
	"net/http"
	"os"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"

	"github.com/tracekit-oss/tracekit/sdk/go/tracekit"
)

// snapshotClient holds the TraceKit snapshot client directly, as the
// guide's breakpoints package does.
var snapshotClient *tracekit.SnapshotClient

// Init stores the TraceKit snapshot client for code monitoring.
func Init(s *tracekit.SDK) {
	if s != nil {
		snapshotClient = s.SnapshotClient()
	}
}

// Capture fires a code monitoring snapshot. No-op when tracing is disabled.
func Capture(ctx context.Context, name string, data map[string]interface{}) {
	if snapshotClient == nil {
		return
	}
	snapshotClient.CheckAndCaptureWithContext(ctx, name, data)
}

type Order struct {
	ID    string
	Total float64
}

type result struct{ TransactionID string }

func processPayment(Order) (result, error) { return result{TransactionID: "t-1"}, nil }

func handlePayment(ctx context.Context, order Order) error {
	result, err := processPayment(order)
	if err != nil {
		Capture(ctx, "payment-failed", map[string]interface{}{
			"order_id": order.ID,
			"error":    err.Error(),
			"amount":   order.Total,
		})
		return err
	}

	Capture(ctx, "payment-success", map[string]interface{}{
		"order_id":       order.ID,
		"transaction_id": result.TransactionID,
	})
	return nil
}

func guideMain() {
	sdk, err := tracekit.NewSDK(&tracekit.Config{
		APIKey:               os.Getenv("TRACEKIT_API_KEY"),
		ServiceName:          "my-go-service",
		Endpoint:             "http://localhost:4318/v1/traces",
		EnableCodeMonitoring: true,
	})
	if err != nil {
		log.Fatalf("tracekit init failed: %v", err)
	}
	defer sdk.Shutdown(context.Background())

	// Initialize the snapshot wrapper
	Init(sdk)

	handleUsers := func(c *gin.Context) {}
	r := gin.Default()
	// TraceKit middleware must be before routes
	r.Use(sdk.GinMiddleware())
	r.GET("/api/users", handleUsers)

	e := echo.New()
	// TraceKit middleware must be before routes
	e.Use(sdk.EchoMiddleware())
	e.GET("/api/users", func(c echo.Context) error { return nil })

	// Use tracekit.HTTPClient — auto-injects traceparent into outbound requests
	resp, err := tracekit.HTTPClient.Get("http://python-service:5000/api/data")
	if err != nil {
		sdk.CaptureException(err)
		return
	}
	defer resp.Body.Close()

	ctx := context.Background()
	orderID, tenantID := "o-1", "t-1"
	span := sdk.GetCurrentSpan(ctx)
	span.SetTag("order.id", orderID)
	span.SetTag("tenant.id", tenantID)

	_ = handlePayment(ctx, Order{ID: orderID})
	_ = http.ListenAndServe
}

// The guide's code must compile; it is not run (it would listen and dial).
var _ = guideMain
