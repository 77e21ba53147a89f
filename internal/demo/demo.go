// Package demo generates realistic multi-service demo traffic so a newcomer
// sees data within a minute: traces of a small web shop (browser, Node.js
// gateway, Go, Java and Python services, PostgreSQL, Redis, Kafka and
// Elasticsearch) with realistic attributes, timings, errors and outliers,
// sent over OTLP/HTTP exactly as an OpenTelemetry SDK would send them.
//
// It owns the generated data and the sending. It does not know the server:
// it is a client of the OTLP endpoint like any other, so the demo exercises
// the same ingest path as real traffic.
package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Defaults for the zero fields of Config.
const (
	// DefaultTraces is how many traces a run sends when Config.Traces is 0.
	DefaultTraces = 50
	// DefaultBatchSize is the most traces per request when Config.BatchSize is 0.
	DefaultBatchSize = 10
)

// spread is how far back in time a burst of traces reaches, so the
// newest-first trace list shows traffic over the last few minutes.
const spread = 5 * time.Minute

// Config says where to send demo traffic and how much.
type Config struct {
	// Endpoint is the full OTLP/HTTP traces URL, e.g.
	// http://127.0.0.1:4318/v1/traces.
	Endpoint string
	// APIKey is sent in the X-API-Key header.
	APIKey string
	// Traces is how many traces to send; 0 means DefaultTraces.
	Traces int
	// Rate is traces per second; 0 sends them all at once, back-dated over
	// the last few minutes. With a rate, each trace ends when it is sent.
	Rate float64
	// BatchSize is the most traces per request; 0 means DefaultBatchSize.
	BatchSize int
	// HTTPClient sends the requests; nil means a client with a 30s timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Rand draws everything random; nil means a randomly seeded source.
	// Seed it for a reproducible run.
	Rand *rand.Rand

	_ struct{}
}

// Stats counts what the server accepted.
type Stats struct {
	Traces, Spans, Requests int
}

// ResponseError is a refusal by the server: an answer other than 2xx.
// Callers find it with errors.As to tell a wrong key from a server down.
type ResponseError struct {
	StatusCode int
	// Message is the server's explanation, from the google.rpc.Status body
	// (or the plain body of a proxy in between).
	Message string
}

// Error says what the server answered and, for a refused key, what to check.
func (e *ResponseError) Error() string {
	msg := fmt.Sprintf("server answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusForbidden {
		msg += " (check the API key, which needs the ingest scope)"
	}
	return msg
}

// Run sends cfg.Traces demo traces to cfg.Endpoint and returns what the
// server accepted. It stops at the first refused request or when ctx ends,
// returning the counts so far with the error.
func Run(ctx context.Context, cfg Config) (Stats, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Stats{}, err
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
		defer cfg.HTTPClient.CloseIdleConnections()
	}
	batch := cfg.BatchSize
	if cfg.Rate > 0 {
		// Small batches at low rates, so traffic trickles in.
		batch = int(min(max(math.Ceil(cfg.Rate), 1), float64(cfg.BatchSize)))
	}

	var st Stats
	s := newShop()
	first := cfg.Now()
	started := time.Now()
	for sent := 0; sent < cfg.Traces; {
		n := min(batch, cfg.Traces-sent)
		if cfg.Rate > 0 && sent > 0 {
			due := started.Add(time.Duration(float64(sent) / cfg.Rate * float64(time.Second)))
			if err := sleepUntil(ctx, due); err != nil {
				return st, err
			}
		}
		now := first
		if cfg.Rate > 0 {
			now = cfg.Now()
		}
		traces, spans := make([]*trace, 0, n), 0
		for k := sent; k < sent+n; k++ {
			b := newBuilder(cfg.Rand)
			pickScenario(cfg.Rand)(b, s)
			b.tr.place(now.Add(-backdate(cfg, k)).UnixNano())
			traces = append(traces, b.tr)
			spans += len(b.tr.spans)
		}
		if err := send(ctx, cfg, traces, spans); err != nil {
			return st, fmt.Errorf("send demo traces %d-%d to %s: %w", sent+1, sent+n, cfg.Endpoint, err)
		}
		sent += n
		st.Traces += n
		st.Spans += spans
		st.Requests++
	}
	return st, nil
}

// withDefaults validates cfg and fills its zero fields.
func (cfg Config) withDefaults() (Config, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, fmt.Errorf("demo endpoint %q: want the full OTLP/HTTP traces URL, like http://127.0.0.1:4318/v1/traces", cfg.Endpoint)
	}
	switch {
	case cfg.Traces < 0:
		return cfg, fmt.Errorf("demo traces %d: want a positive number, or 0 for %d", cfg.Traces, DefaultTraces)
	case cfg.Rate < 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0):
		return cfg, fmt.Errorf("demo rate %v: want traces per second, or 0 to send at once", cfg.Rate)
	case cfg.BatchSize < 0:
		return cfg, fmt.Errorf("demo batch size %d: want a positive number, or 0 for %d", cfg.BatchSize, DefaultBatchSize)
	}
	if cfg.Traces == 0 {
		cfg.Traces = DefaultTraces
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	return cfg, nil
}

// backdate is how long before now trace k ends. A burst spreads the traces
// over the last few minutes, oldest first; paced traffic ends as it is sent.
func backdate(cfg Config, k int) time.Duration {
	if cfg.Rate > 0 {
		return time.Duration(cfg.Rand.Int64N(int64(500 * time.Millisecond)))
	}
	slot := spread / time.Duration(cfg.Traces)
	d := slot * time.Duration(cfg.Traces-1-k)
	if k < cfg.Traces-1 {
		d += time.Duration(cfg.Rand.Int64N(int64(slot)/2 + 1))
	}
	return d
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}

// send posts one batch and checks the answer, including partial success.
func send(ctx context.Context, cfg Config, traces []*trace, spans int) error {
	body, err := encode(traces)
	if err != nil {
		return fmt.Errorf("encode request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cfg.Endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if cfg.APIKey != "" {
		req.Header.Set("X-API-Key", cfg.APIKey)
	}
	req.Header.Set("User-Agent", "tracekit-demo")
	resp, err := cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_, _ = io.Copy(io.Discard, resp.Body) // let the connection be reused
	if err != nil {
		return fmt.Errorf("read response: %w", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &ResponseError{StatusCode: resp.StatusCode, Message: errorMessage(resp.Header.Get("Content-Type"), data)}
	}
	er := ptraceotlp.NewExportResponse()
	if len(data) > 0 && isProto(resp.Header.Get("Content-Type")) {
		if err := er.UnmarshalProto(data); err != nil {
			return fmt.Errorf("decode response: %w", err)
		}
	}
	if n := er.PartialSuccess().RejectedSpans(); n > 0 {
		return fmt.Errorf("server refused %d of %d spans: %s", n, spans, clean(er.PartialSuccess().ErrorMessage()))
	}
	return nil
}

// errorMessage extracts the server's message from an OTLP error body: a
// google.rpc.Status in protobuf or JSON, or text from a proxy in between.
func errorMessage(contentType string, body []byte) string {
	var st status.Status
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/json":
		if protojson.Unmarshal(body, &st) == nil && st.Message != "" {
			return clean(st.Message)
		}
	case isProto(contentType):
		if proto.Unmarshal(body, &st) == nil && st.Message != "" {
			return clean(st.Message)
		}
	}
	return clean(string(body))
}

func isProto(contentType string) bool {
	mt, _, _ := mime.ParseMediaType(contentType)
	return mt == "application/x-protobuf" || mt == "application/protobuf"
}

// clean makes a message from the network safe and short for a terminal.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, " "))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return s
}
