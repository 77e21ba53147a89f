package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
)

// IngestConfig configures `tracekit bench ingest`.
type IngestConfig struct {
	Endpoint    string // full OTLP/HTTP traces URL
	APIKey      string
	Duration    time.Duration
	Concurrency int
	Shape       Shape
	// Distinct makes every request's spans new: span IDs and times too,
	// not only trace IDs (see payload.patch).
	Distinct bool
	// MetricsURL is scraped for the server's resident memory; empty derives
	// it from Endpoint.
	MetricsURL string
	HTTPClient *http.Client
}

// IngestResult is what a run measured.
type IngestResult struct {
	Requests      int64
	Failed        int64
	SpansAccepted int64
	Elapsed       time.Duration
	LatencyP50    time.Duration
	LatencyP99    time.Duration
	MaxRSSBytes   int64 // 0 when the server's metrics could not be read
	FirstError    string
}

// SpansPerSecond is the accepted throughput.
func (r IngestResult) SpansPerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.SpansAccepted) / r.Elapsed.Seconds()
}

func (r IngestResult) String() string {
	rss := "unknown"
	if r.MaxRSSBytes > 0 {
		rss = fmt.Sprintf("%.0f MB", float64(r.MaxRSSBytes)/1e6)
	}
	s := fmt.Sprintf("accepted %d spans in %d requests over %.1fs: %.0f spans/s\nrequest latency p50 %s, p99 %s; failed requests %d; server RSS max %s",
		r.SpansAccepted, r.Requests, r.Elapsed.Seconds(), r.SpansPerSecond(),
		r.LatencyP50.Round(10*time.Microsecond), r.LatencyP99.Round(10*time.Microsecond), r.Failed, rss)
	if r.FirstError != "" {
		s += "\nfirst error: " + r.FirstError
	}
	return s
}

// payload is a prepared request body whose trace IDs are rewritten per send.
type payload struct {
	body    []byte
	offsets []int // where a trace ID's first 8 bytes stand
	spans   int
	// spanOffsets are where a span ID stands, as a span's own or as a
	// child's parent; timeOffsets where a start or end time's 8 bytes do.
	spanOffsets, timeOffsets []int
}

// patch rewrites buf, a copy of p.body, for send n: it gives its traces
// new IDs. With distinct, it gives its spans new IDs too (a parent's
// references with it) and moves their times shift later. Without it, 16
// templates' span IDs, times and so index rows repeat every 16 requests,
// which a store compresses away (README, bytes on disk per span).
func (p *payload) patch(buf []byte, n uint64, distinct bool, shift time.Duration) {
	xorAt(buf, p.offsets, n)
	if !distinct {
		return
	}
	xorAt(buf, p.spanOffsets, n)
	for _, off := range p.timeOffsets {
		t := binary.LittleEndian.Uint64(buf[off:])
		binary.LittleEndian.PutUint64(buf[off:], t+uint64(shift))
	}
}

// xorAt mixes n into the 8 bytes at each of offsets: an ID stays valid
// and differs for every n.
func xorAt(buf []byte, offsets []int, n uint64) {
	for _, off := range offsets {
		binary.LittleEndian.PutUint64(buf[off:], binary.LittleEndian.Uint64(buf[off:])^n)
	}
}

// allOffsets appends where each occurrence of pattern starts in body, plus
// skip.
func allOffsets(dst []int, body, pattern []byte, skip int) []int {
	for off := 0; ; {
		k := bytes.Index(body[off:], pattern)
		if k < 0 {
			return dst
		}
		dst = append(dst, off+k+skip)
		off += k + len(pattern)
	}
}

// The protobuf tags of a span's start_time_unix_nano (field 7) and
// end_time_unix_nano (field 8), both fixed64.
const (
	startTimeTag = 7<<3 | 1
	endTimeTag   = 8<<3 | 1
)

func preparePayloads(n int, sh Shape) ([]payload, error) {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]payload, n)
	now := time.Now()
	for i := range out {
		td, ids := Traces(r, sh, now)
		body, err := ptraceotlp.NewExportRequestFromTraces(td).MarshalProto()
		if err != nil {
			return nil, fmt.Errorf("encode batch: %w", err)
		}
		p := payload{body: body, spans: td.SpanCount()}
		for _, id := range ids {
			p.offsets = allOffsets(p.offsets, body, id[:], 0)
		}
		// A span's ID is also its children's parent ID, and two spans may
		// share a time: each distinct one is found everywhere it stands.
		spanIDs := map[[8]byte]bool{}
		times := map[[9]byte]bool{} // protobuf tag, then the fixed64
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, sp := range ss.Spans().All() {
					spanIDs[sp.SpanID()] = true
					var start, end [9]byte
					start[0], end[0] = startTimeTag, endTimeTag
					binary.LittleEndian.PutUint64(start[1:], uint64(sp.StartTimestamp()))
					binary.LittleEndian.PutUint64(end[1:], uint64(sp.EndTimestamp()))
					times[start], times[end] = true, true
				}
			}
		}
		for id := range spanIDs {
			p.spanOffsets = allOffsets(p.spanOffsets, body, id[:], 0)
		}
		for pat := range times {
			p.timeOffsets = allOffsets(p.timeOffsets, body, pat[:], 1)
		}
		out[i] = p
	}
	return out, nil
}

// Ingest runs the load and measures it. It stops at cfg.Duration or ctx.
func Ingest(ctx context.Context, cfg IngestConfig) (IngestResult, error) {
	if cfg.Duration <= 0 {
		return IngestResult{}, errors.New("--duration must be positive")
	}
	if cfg.Concurrency <= 0 {
		return IngestResult{}, errors.New("--concurrency must be positive")
	}
	if _, err := url.ParseRequestURI(cfg.Endpoint); err != nil {
		return IngestResult{}, fmt.Errorf("--endpoint %q: %w", cfg.Endpoint, err)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Concurrency, DisableCompression: true}, Timeout: 30 * time.Second}
	}
	if cfg.MetricsURL == "" {
		u, _ := url.Parse(cfg.Endpoint)
		u.Path = "/metrics"
		cfg.MetricsURL = u.String()
	}
	payloads, err := preparePayloads(16, cfg.Shape)
	if err != nil {
		return IngestResult{}, err
	}
	prepared := time.Now()
	ctx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()

	var res IngestResult
	var seq atomic.Uint64
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	var maxRSS atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			if rss := scrapeRSS(ctx, hc, cfg.MetricsURL); rss > maxRSS.Load() {
				maxRSS.Store(rss)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	start := time.Now()
	for w := 0; w < cfg.Concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var buf []byte
			var mine []time.Duration
			for i := w; ctx.Err() == nil; i++ {
				p := &payloads[i%len(payloads)]
				buf = append(buf[:0], p.body...)
				p.patch(buf, seq.Add(1), cfg.Distinct, time.Since(prepared))
				t0 := time.Now()
				accepted, err := send(ctx, hc, cfg, buf, p.spans)
				if ctx.Err() != nil {
					break
				}
				mine = append(mine, time.Since(t0))
				atomic.AddInt64(&res.Requests, 1)
				atomic.AddInt64(&res.SpansAccepted, int64(accepted))
				if err != nil {
					atomic.AddInt64(&res.Failed, 1)
					mu.Lock()
					if res.FirstError == "" {
						res.FirstError = err.Error()
					}
					mu.Unlock()
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.MaxRSSBytes = maxRSS.Load()
	if len(lat) > 0 {
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		res.LatencyP50 = lat[len(lat)/2]
		res.LatencyP99 = lat[len(lat)*99/100]
	}
	return res, nil
}

func send(ctx context.Context, hc *http.Client, cfg IngestConfig, body []byte, spans int) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.Endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("X-API-Key", cfg.APIKey)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("status %d: %q", resp.StatusCode, data)
	}
	er := ptraceotlp.NewExportResponse()
	if err := er.UnmarshalProto(data); err != nil {
		return 0, fmt.Errorf("decode response: %w", err)
	}
	return spans - int(er.PartialSuccess().RejectedSpans()), nil
}

// scrapeRSS reads process_resident_memory_bytes from a Prometheus endpoint.
func scrapeRSS(ctx context.Context, hc *http.Client, u string) int64 {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "process_resident_memory_bytes "); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return int64(f)
		}
	}
	return 0
}
