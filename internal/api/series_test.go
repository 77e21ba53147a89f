package api

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseSeriesRange(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	f := func(query string, wantSpan, wantStep time.Duration, wantErr string) {
		t.Helper()
		v, err := url.ParseQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		start, end, step, err := ParseSeriesRange(v, now)
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Errorf("%q: err = %v, want one containing %q", query, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Errorf("%q: %v", query, err)
			return
		}
		if end.Sub(start) != wantSpan || step != wantStep {
			t.Errorf("%q: range %s step %s, want %s step %s", query, end.Sub(start), step, wantSpan, wantStep)
		}
	}
	// Automatic steps: at most 300 buckets, 10 s to a day.
	f("", time.Hour, 30*time.Second, "")
	f("lookback=5m", 5*time.Minute, 10*time.Second, "")
	f("lookback=50m", 50*time.Minute, 10*time.Second, "")
	f("lookback=24h", 24*time.Hour, 5*time.Minute, "")
	f("lookback=168h", 168*time.Hour, time.Hour, "")
	f("lookback=720h", 720*time.Hour, 3*time.Hour, "")
	f("lookback=8760h", 8760*time.Hour, 24*time.Hour, "")
	f("start=2026-01-01T00:00:00Z&end=2026-01-01T06:00:00Z", 6*time.Hour, 2*time.Minute, "")
	// Chosen steps.
	f("lookback=24h&step=1m", 24*time.Hour, time.Minute, "")
	f("lookback=1h&step=10s", time.Hour, 10*time.Second, "")
	f("lookback=1h&step=90s", time.Hour, 90*time.Second, "")
	f("lookback=720h&step=24h", 720*time.Hour, 24*time.Hour, "")
	// Bad parameters name themselves.
	f("lookback=1h&step=15s", 0, 0, `step "15s": use a multiple of 10s`)
	f("lookback=1h&step=5s", 0, 0, `step "5s"`)
	f("lookback=1h&step=0", 0, 0, `step "0"`)
	f("lookback=1h&step=-1m", 0, 0, `step "-1m"`)
	f("lookback=1h&step=soon", 0, 0, `step "soon"`)
	f("lookback=1h&step=48h", 0, 0, `step "48h"`)
	f("lookback=24h&step=10s", 0, 0, `step "10s": gives 8641 points`)
	f("lookback=87600h", 0, 0, "start")
	f("lookback=never", 0, 0, "lookback")
	f("start=later", 0, 0, "start")
	f("start=100&end=100", 0, 0, "end")
}

func TestAutoStep(t *testing.T) {
	f := func(span, want time.Duration) {
		t.Helper()
		if got := AutoStep(span); got != want {
			t.Errorf("AutoStep(%v) = %v, want %v", span, got, want)
		}
		if n := span / AutoStep(span); AutoStep(span) < maxSeriesStep && n > autoStepBuckets {
			t.Errorf("AutoStep(%v) gives %d buckets, more than %d", span, n, autoStepBuckets)
		}
	}
	f(time.Minute, 10*time.Second)
	f(15*time.Minute, 10*time.Second)
	f(50*time.Minute, 10*time.Second)
	f(time.Hour, 30*time.Second)
	f(6*time.Hour, 2*time.Minute)
	f(24*time.Hour, 5*time.Minute)
	f(7*24*time.Hour, time.Hour)
	f(30*24*time.Hour, 3*time.Hour)
	f(1000*24*time.Hour, 24*time.Hour)
}

func TestFormatStep(t *testing.T) {
	f := func(d time.Duration, want string) {
		t.Helper()
		if got := FormatStep(d); got != want {
			t.Errorf("FormatStep(%s) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(want); err != nil || back != d {
			t.Errorf("%q reads back as %s, %v", want, back, err)
		}
	}
	f(10*time.Second, "10s")
	f(90*time.Second, "90s")
	f(5*time.Minute, "5m")
	f(90*time.Minute, "90m")
	f(24*time.Hour, "24h")
}
