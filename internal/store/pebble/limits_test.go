package pebble_test

import (
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
	"github.com/tracekit-oss/tracekit/internal/store/storetest"
)

func TestLimits(t *testing.T) {
	storetest.RunLimits(t, func(t *testing.T, dir string, now func() time.Time, lim storetest.Limits) store.TraceStore {
		s, err := pebble.Open(dir, pebble.Options{Now: now, MaxServices: lim.Services, MaxOperations: lim.Operations})
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
