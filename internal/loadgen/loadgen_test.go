package loadgen

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestQuerySmall(t *testing.T) {
	res, err := Query(context.Background(), QueryConfig{Spans: 20_000, Over: 2 * time.Hour, Queries: 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.Spans != 19968 || res.BytesPerSpan <= 0 || res.TraceByID.P50 <= 0 || res.SearchCommon.P50 <= 0 {
		t.Errorf("result = %+v", res)
	}
	if s := res.String(); !strings.Contains(s, "trace by ID") || !strings.Contains(s, "bytes on disk per span") {
		t.Errorf("report = %s", s)
	}
}

// TestQueryHotSmall runs the hot shape small: searches and lookups while a
// writer adds spans, every figure measured.
func TestQueryHotSmall(t *testing.T) {
	res, err := QueryHot(context.Background(), HotConfig{Spans: 20_000, Over: 10 * time.Second, Rate: 20_000, Queries: 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.Spans != 19968 || res.IngestSpansPerS <= 0 || res.TraceByID.P50 <= 0 || res.SearchService.P50 <= 0 ||
		res.SearchCommon.P50 <= 0 || res.SearchRare.P50 <= 0 {
		t.Errorf("result = %+v", res)
	}
	if s := res.String(); !strings.Contains(s, "service only") || !strings.Contains(s, "arrive") {
		t.Errorf("report = %s", s)
	}
}

func TestPayloadIDsRewritable(t *testing.T) {
	ps, err := preparePayloads(2, Shape{Batch: 64, TraceSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		// 8 traces, each ID written once per span.
		if p.spans != 64 || len(p.offsets) != 64 {
			t.Errorf("spans %d, id offsets %d; want 64 and 64", p.spans, len(p.offsets))
		}
	}
}
