package pii

import (
	"testing"
)

func BenchmarkScrub(b *testing.B) {
	s := Default()
	for _, bc := range []struct{ name, in string }{
		{"clean/word", "processing"},
		{"clean/id", "550e8400-e29b-41d4-a716-446655440000"},
		{"clean/timestamp", "2024-01-15T10:30:00.123Z"},
		{"clean/sentence", "Order 100234 shipped to the warehouse in 3 boxes after 2 retries"},
		{"clean/url", "https://api.example.com/v1/orders?page=2&limit=50"},
		{"clean/long", "GET /api/users/12345/orders HTTP/1.1 Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"},
		{"dirty/email", "Contact: jane.doe@example.com"},
		{"dirty/card", "card 4111 1111 1111 1111 exp 12/27"},
		{"dirty/jwt", "Authorization: Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhYmMxMjMifQ.c2lnbmF0dXJl"},
		{"dirty/mixed", "user jane@example.com paid with 4111111111111111 from +1-555-123-4567, api_key=9f8e7d6c5b4a39281706"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				_ = s.String(bc.in)
			}
		})
	}
}

func BenchmarkNameMarker(b *testing.B) {
	s := Default()
	names := []string{"id", "user_id", "createdAt", "total", "password", "apiKey", "Authorization", "max_tokens"}
	b.ReportAllocs()
	for b.Loop() {
		for _, n := range names {
			_ = s.NameMarker(n)
		}
	}
}
