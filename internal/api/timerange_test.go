package api

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseTimeRange(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	at := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	var zero time.Time
	tests := []struct {
		name       string
		query      string
		start, end time.Time
		err        string // a part of the error; "" for none
	}{
		{"missing: unbounded until now", "", zero, zero, ""},
		{"blank is missing", "start=+&end=", zero, zero, ""},
		{"lookback before now", "lookback=1h", now.Add(-time.Hour), zero, ""},
		{"lookback before end", "lookback=30m&end=2026-01-01T10:00:00Z", at("2026-01-01T09:30:00Z"), at("2026-01-01T10:00:00Z"), ""},
		{"lookback takes the place of start", "lookback=1h&start=2020-01-01T00:00:00Z", now.Add(-time.Hour), zero, ""},
		{"RFC 3339", "start=2026-01-01T10:00:00Z&end=2026-01-01T12:00:00.5%2B02:00", at("2026-01-01T10:00:00Z"), at("2026-01-01T10:00:00.5Z"), ""},
		{"datetime-local, as UTC", "start=2026-01-01T10:00&end=2026-01-01T11:30:15", at("2026-01-01T10:00:00Z"), at("2026-01-01T11:30:15Z"), ""},
		{"Unix seconds", "start=1767225600&end=1767229200", at("2026-01-01T00:00:00Z"), at("2026-01-01T01:00:00Z"), ""},
		{"start alone", "start=0", time.Unix(0, 0), zero, ""},
		{"end alone", "end=2262-04-11T23:47:16Z", zero, at("2262-04-11T23:47:16Z"), ""},
		{"start equal to end", "start=100&end=100", time.Unix(100, 0), time.Unix(100, 0), ""},

		{"end before start", "start=2026-01-02T00:00:00Z&end=2026-01-01T00:00:00Z", zero, zero, "start 2026-01-02T00:00:00Z is after end 2026-01-01T00:00:00Z"},
		{"negative lookback", "lookback=-1h", zero, zero, `lookback "-1h": use a duration`},
		{"bad start", "start=yesterday", zero, zero, `start "yesterday": use RFC 3339`},
		{"bad end", "end=2026-13-01T00:00", zero, zero, `end "2026-13-01T00:00": use RFC 3339`},
		{"bad lookback", "lookback=1x", zero, zero, `lookback "1x": use a duration such as 1h`},
		{"zero lookback", "lookback=0s", zero, zero, `lookback "0s"`},
		{"lookback before 1970", "lookback=1000000h", zero, zero, `lookback "1000000h": reaches back before 1970`},
		{"start before 1970", "start=1969-12-31T23:59:59Z", zero, zero, `start "1969-12-31T23:59:59Z": use a time between 1970 and 2262`},
		{"year 1", "start=0001-01-01T00:00:00Z", zero, zero, `start "0001-01-01T00:00:00Z": use a time between 1970 and 2262`},
		{"negative Unix seconds", "start=-1", zero, zero, `start "-1": use a time between 1970 and 2262`},
		{"end past 2262", "end=2262-04-12T00:00:00Z", zero, zero, `end "2262-04-12T00:00:00Z": use a time between 1970 and 2262`},
		{"Unix seconds past 2262", "end=99999999999", zero, zero, `end "99999999999": use a time between 1970 and 2262`},
		{"Unix seconds beyond int64", "end=9223372036854775807", zero, zero, `end "9223372036854775807": use a time between 1970 and 2262`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			if err != nil {
				t.Fatal(err)
			}
			start, end, err := ParseTimeRange(q, now)
			switch {
			case tt.err != "":
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseTimeRange(%s) = %v, %v, %v; want an error with %q", tt.query, start, end, err, tt.err)
				}
			case err != nil:
				t.Fatalf("ParseTimeRange(%s): %v", tt.query, err)
			case !start.Equal(tt.start) || !end.Equal(tt.end):
				t.Fatalf("ParseTimeRange(%s) = %v, %v; want %v, %v", tt.query, start, end, tt.start, tt.end)
			}
		})
	}
}

// FuzzParseTimeRange: whatever the parameters, ParseTimeRange returns an
// error or an ordered range inside what Unix nanoseconds hold.
func FuzzParseTimeRange(f *testing.F) {
	f.Add("2026-01-01T10:00", "1767229200", "1h")
	f.Add("", "", "2562047h")
	f.Add("9223372036", "-0", "1ns")
	f.Fuzz(func(t *testing.T, start, end, lookback string) {
		now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
		s, e, err := ParseTimeRange(map[string][]string{"start": {start}, "end": {end}, "lookback": {lookback}}, now)
		if err != nil {
			return
		}
		for _, v := range []time.Time{s, e} {
			if !v.IsZero() && (v.Before(minTime) || v.After(maxTime)) {
				t.Fatalf("%v is outside 1970..2262", v)
			}
		}
		if !s.IsZero() && !e.IsZero() && s.After(e) {
			t.Fatalf("start %v after end %v", s, e)
		}
	})
}
