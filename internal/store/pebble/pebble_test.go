package pebble_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
	"github.com/tracekit-oss/tracekit/internal/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t *testing.T, now func() time.Time) *pebble.Store {
	s, err := pebble.Open(t.TempDir(), pebble.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestTraceConformance(t *testing.T) {
	storetest.RunTraces(t, func(t *testing.T, now func() time.Time) store.TraceStore { return open(t, now) })
}

func TestMetadataConformance(t *testing.T) {
	storetest.RunMetadata(t, func(t *testing.T, now func() time.Time) store.MetadataStore { return open(t, now) })
}
