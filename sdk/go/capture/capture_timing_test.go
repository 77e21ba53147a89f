package capture

import (
	"errors"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/sdk/go/pii"
)

type benchItem struct {
	SKU      string
	Name     string
	Quantity int
	Price    float64
}

type benchCustomer struct {
	ID        string
	Email     string
	Phone     string
	CreatedAt time.Time
	Premium   bool
}

type benchOrder struct {
	ID       string
	Status   string
	Total    float64
	Currency string
	Items    []benchItem
	Customer *benchCustomer
	Notes    string
	placedAt time.Time
}

// benchVars are the variables of a checkout handler at a breakpoint: about
// 20 fields over three levels, a few of them personal data or secrets.
func benchVars() map[string]any {
	return map[string]any{
		"order": &benchOrder{
			ID: "ord_100234", Status: "pending", Total: 129.97, Currency: "EUR",
			Items: []benchItem{
				{SKU: "SKU-1", Name: "Coffee beans 1kg", Quantity: 2, Price: 24.99},
				{SKU: "SKU-7", Name: "Grinder", Quantity: 1, Price: 79.99},
			},
			Customer: &benchCustomer{ID: "cus_42", Email: "jane.doe@example.com", Phone: "+1-555-123-4567",
				CreatedAt: time.Date(2023, 5, 1, 9, 0, 0, 0, time.UTC), Premium: true},
			Notes:    "leave at the door",
			placedAt: time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC),
		},
		"request": map[string]any{
			"method": "POST", "path": "/api/v1/checkout",
			"headers": map[string]any{"Content-Type": "application/json", "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln", "X-Request-Id": "550e8400-e29b-41d4-a716-446655440000"},
		},
		"userID":  "u-1001",
		"attempt": 2,
		"err":     errors.New("payment gateway timeout after 5s"),
	}
}

func BenchmarkCapture(b *testing.B) {
	vars := benchVars()
	scrub := pii.Default()
	lim := DefaultLimits()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Capture(vars, lim, scrub)
	}
}

func BenchmarkCaptureNoScrub(b *testing.B) {
	vars := benchVars()
	lim := DefaultLimits()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = Capture(vars, lim, nil)
	}
}
