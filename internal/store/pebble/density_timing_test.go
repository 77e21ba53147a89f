//go:build linux

package pebble_test

import (
	"bytes"
	"context"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"

	"github.com/tracekit-oss/tracekit/internal/auth"
	"github.com/tracekit-oss/tracekit/internal/demo"
	"github.com/tracekit-oss/tracekit/internal/ingest"
	"github.com/tracekit-oss/tracekit/internal/loadgen"
	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/store/pebble"
)

// BenchmarkBytesPerSpan fills a fresh store through the OTLP/HTTP receiver,
// closes it cleanly and reports the bytes its directory holds per span:
// "disk-B/span" as du counts them (allocated blocks), "size-B/span" as the
// files' lengths, and the shares of the tables ("sst-B/span") and of the
// write-ahead logs ("wal-B/span"): what was not yet flushed and up to 5
// logs kept for reuse, about 180 MB whatever the load. Then it reopens the
// store and reports its size once compacted (reportKinds).
//
//   - issue: the load of issue 15, 1,000,000 spans in batches of 500, traces
//     of 5 spans with 6 attributes, arriving at 100,000 spans/s;
//   - demo: 20,000 traces of the demo shop (internal/demo).
//
// Run with -benchtime 1x: one iteration writes the whole load.
func BenchmarkBytesPerSpan(b *testing.B) {
	b.Run("issue", func(b *testing.B) {
		for range b.N {
			measureDensity(b, func(b *testing.B, rcv http.Handler) int {
				const batches, rate = 2000, 100_000 // spans/s
				sh := loadgen.Shape{Batch: 500, TraceSize: 5, Attrs: 6}
				r := rand.New(rand.NewPCG(1, 2))
				end := time.Now().Add(-time.Minute)
				for i := range batches {
					td, _ := loadgen.Traces(r, sh, end.Add(time.Duration(i)*time.Second*time.Duration(sh.Batch)/rate))
					body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
					if err != nil {
						b.Fatal(err)
					}
					req := httptest.NewRequest(http.MethodPost, "/v1/traces", bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/x-protobuf")
					w := httptest.NewRecorder()
					rcv.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Fatalf("batch %d: %d %s", i, w.Code, w.Body)
					}
				}
				return batches * sh.Batch
			})
		}
	})
	b.Run("demo", func(b *testing.B) {
		for range b.N {
			measureDensity(b, func(b *testing.B, rcv http.Handler) int {
				srv := httptest.NewServer(rcv)
				defer srv.Close()
				st, err := demo.Run(context.Background(), demo.Config{Endpoint: srv.URL + "/v1/traces", Traces: 20_000,
					BatchSize: 50, Rand: rand.New(rand.NewPCG(3, 4))})
				if err != nil {
					b.Fatal(err)
				}
				return st.Spans
			})
		}
	})
}

// measureDensity opens a fresh store, lets load send spans to an OTLP/HTTP
// receiver writing to it, closes it and reports its size per span.
func measureDensity(b *testing.B, load func(*testing.B, http.Handler) int) {
	b.Helper()
	dir := b.TempDir()
	st, err := pebble.Open(dir, pebble.Options{})
	if err != nil {
		b.Fatal(err)
	}
	rcv, err := ingest.New(st, benchKey{}, ingest.Config{}, nil, prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	spans := load(b, rcv)
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	var disk, size, sst, wal int64
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		size += fi.Size()
		disk += fi.Sys().(*syscall.Stat_t).Blocks * 512
		switch {
		case strings.HasSuffix(path, ".sst"):
			sst += fi.Size()
		case strings.HasSuffix(path, ".log"):
			wal += fi.Size()
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	per := func(n int64) float64 { return float64(n) / float64(spans) }
	b.ReportMetric(per(disk), "disk-B/span")
	b.ReportMetric(per(size), "size-B/span")
	b.ReportMetric(per(sst), "sst-B/span")
	b.ReportMetric(per(wal), "wal-B/span")
	b.ReportMetric(float64(spans), "spans")
	reportKinds(b, dir, spans)
}

// reportKinds reopens the store in dir and reports, once it is compacted
// (pebble.KindBytes), its table bytes per span in all ("all-B/span") and by
// record kind.
func reportKinds(b *testing.B, dir string, spans int) {
	b.Helper()
	s, err := pebble.Open(dir, pebble.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	kinds, err := pebble.KindBytes(s)
	if err != nil {
		b.Fatal(err)
	}
	for name, n := range kinds {
		b.ReportMetric(float64(n)/float64(spans), name+"-B/span")
	}
}

// benchKey lets every request in as project "bench".
type benchKey struct{}

func (benchKey) Authenticate(context.Context, string) (auth.Principal, error) {
	return auth.Principal{Project: "bench", Scope: store.ScopeIngest}, nil
}
