package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/storetest"
)

// open opens a Store on url, closed when the test ends.
func open(t testing.TB, url string, now func() time.Time) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{URL: url, Now: now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestMetadata(t *testing.T) {
	storetest.RunMetadata(t, func(t *testing.T, now func() time.Time) store.MetadataStore {
		s, err := Open(context.Background(), Config{URL: newDatabase(t), Now: now})
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s
	})
}
