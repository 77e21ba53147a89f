package jaegerapi

import (
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tracekit-oss/tracekit/internal/store"
)

func TestParseTraceID(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		id, err := parseTraceID(in)
		if got := fmt.Sprint(err); err == nil {
			got = id.String()
			if got != want {
				t.Errorf("parseTraceID(%q) = %s, want %s", in, got, want)
			}
		} else if got != want {
			t.Errorf("parseTraceID(%q) error %q, want %q", in, got, want)
		}
	}
	f("4bf92f3577b34da6a3ce929d0e0e4736", "4bf92f3577b34da6a3ce929d0e0e4736")
	f("4BF92F3577B34DA6A3CE929D0E0E4736", "4bf92f3577b34da6a3ce929d0e0e4736")
	f("123456789abcdef", "00000000000000000123456789abcdef")
	f("1", "00000000000000000000000000000001")
	f("10000000000000000", "00000000000000010000000000000000")
	f("", "TraceID is empty")
	f("+1", `strconv.ParseUint: parsing "+1": invalid syntax`)
	f("0x12", `strconv.ParseUint: parsing "0x12": invalid syntax`)
	f("g000000000000000000", `strconv.ParseUint: parsing "g00": invalid syntax`)
}

func TestParseTags(t *testing.T) {
	f := func(simple, structured []string, want map[string]string) {
		t.Helper()
		got, err := parseTags(simple, structured)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("parseTags(%q, %q) = %v, %v; want %v", simple, structured, got, err, want)
		}
	}
	f(nil, nil, map[string]string{})
	f([]string{"a:b", "url:http://x:80"}, nil, map[string]string{"a": "b", "url": "http://x:80"})
	f(nil, []string{`{"http.status_code":"500","error":"true"}`}, map[string]string{"http.status_code": "500", "error": "true"})
	f(nil, []string{` {"a":"1"} `}, map[string]string{"a": "1"})
	// logfmt, as typed in Grafana's query editor.
	f(nil, []string{`error=true db.statement="select * from \"User\""  flag`}, map[string]string{"error": "true", "db.statement": `select * from "User"`, "flag": ""})
	f(nil, []string{`a=1=2 b=`}, map[string]string{"a": "1=2", "b": ""})
	// A later parameter wins, as in Jaeger.
	f([]string{"a:1"}, []string{`{"a":"2"}`}, map[string]string{"a": "2"})
	for _, bad := range []string{`=x`, `a="x`, `a"b=1`, `a="\q"`} {
		if _, err := parseTags(nil, []string{bad}); err == nil {
			t.Errorf("parseTags(%q) took it", bad)
		}
	}
}

func TestParseSearch(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	f := func(query string, want store.TraceQuery) {
		t.Helper()
		v, _ := url.ParseQuery(query)
		sq, err := parseSearch(v, now)
		if err != nil || !reflect.DeepEqual(sq.q, want) {
			t.Errorf("parseSearch(%s) = %+v, %v\nwant %+v", query, sq.q, err, want)
		}
	}
	f("service=a", store.TraceQuery{Service: "a", Start: now.Add(-DefaultSearchLookback), End: now, Limit: DefaultLimit})
	f("service=a&operation=b&start=1000000&end=2000000&limit=5&minDuration=1.5ms&maxDuration=1s&lookback=custom",
		store.TraceQuery{Service: "a", Operation: "b", Start: time.Unix(1, 0), End: time.Unix(2, 0), Limit: 5, MinDuration: 1500 * time.Microsecond, MaxDuration: time.Second})
	f("service=a&start=-5&end=99999999999999999&limit=0", store.TraceQuery{Service: "a", Start: minTime, End: maxTime, Limit: DefaultLimit})
	f("service=a&limit=5000", store.TraceQuery{Service: "a", Start: now.Add(-DefaultSearchLookback), End: now, Limit: store.MaxLimit})
	f(`service=a&tags={"error":"true","b":"2","a":"1"}`, store.TraceQuery{Service: "a", Start: now.Add(-DefaultSearchLookback), End: now, Limit: DefaultLimit,
		ErrorsOnly: true, Attributes: []store.AttributeFilter{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}}})
	f(`service=a&tag=otel.status_code:ERROR&tag=error:false`, store.TraceQuery{Service: "a", Start: now.Add(-DefaultSearchLookback), End: now, Limit: DefaultLimit,
		ErrorsOnly: true, Attributes: []store.AttributeFilter{{Key: "error", Value: "false"}}})
}

func TestDependenciesRange(t *testing.T) {
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	f := func(query string, start, end time.Time) {
		t.Helper()
		v, _ := url.ParseQuery(query)
		s, e, err := dependenciesRange(v, now)
		if err != nil || !s.Equal(start) || !e.Equal(end) {
			t.Errorf("dependenciesRange(%s) = %v, %v, %v; want %v, %v", query, s, e, err, start, end)
		}
	}
	f("", now.Add(-24*time.Hour), now)
	f("endTs=60000&lookback=1000", time.Unix(59, 0), time.Unix(60, 0))
	f("endTs=1000&lookback=5000", minTime, time.Unix(1, 0))
	f("endTs=1000&lookback=-5", time.Unix(1, 0), time.Unix(1, 0))
	f("lookback=9223372036854775807", minTime, now)
}

func FuzzParseTraceID(f *testing.F) {
	for _, s := range []string{"4bf92f3577b34da6a3ce929d0e0e4736", "123456789abcdef", "", "0", "zz", "+1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseTraceID(s)
		if err != nil {
			return
		}
		// What Jaeger clients are given reads back as the same ID.
		again, err := parseTraceID(traceIDString(id))
		if err != nil || again != id {
			t.Fatalf("%q -> %s -> %s, %v", s, traceIDString(id), again, err)
		}
	})
}

func FuzzParseTags(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, `a=b c="d e"`, `a="\"x\""`, `=`, `"`, `a=" `, "{"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tags, err := parseTags(nil, []string{s})
		if err != nil {
			return
		}
		// A parsed set survives the JSON form Grafana sends (of valid
		// UTF-8: JSON replaces the rest).
		if !utf8.ValidString(s) {
			return
		}
		b, _ := json.Marshal(tags)
		back, err := parseTags(nil, []string{string(b)})
		if err != nil || !reflect.DeepEqual(back, tags) {
			t.Fatalf("%q -> %s -> %v, %v", s, b, back, err)
		}
	})
}
