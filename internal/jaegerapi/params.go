package jaegerapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// Defaults as jaeger-query has them.
const (
	// DefaultLimit is how many traces a search returns without limit.
	DefaultLimit = 100
	// DefaultSearchLookback is how far back a search looks without start.
	DefaultSearchLookback = 48 * time.Hour
	// DefaultDependenciesLookback is the range of /dependencies without
	// lookback.
	DefaultDependenciesLookback = 24 * time.Hour
)

// errServiceRequired is Jaeger's answer to a search or an operations list
// without a service.
var errServiceRequired = errors.New("parameter 'service' is required")

// errMaxBelowMin is Jaeger's answer to maxDuration < minDuration.
var errMaxBelowMin = errors.New("'maxDuration' should be greater than 'minDuration'")

// paramError words a malformed parameter as Jaeger does.
func paramError(name string, err error) error {
	return fmt.Errorf("unable to parse param '%s': %w", name, err)
}

// searchQuery is a parsed /traces request: by IDs, or a store query.
type searchQuery struct {
	traceIDs []telemetry.TraceID
	q        store.TraceQuery
	// empty is set when the range cannot hold a span (start after end).
	empty bool
}

// parseSearch reads /traces parameters as jaeger-query does: service,
// operation, start and end (Unix microseconds), minDuration and maxDuration
// (Go durations), limit, tags (a JSON object, or logfmt key=value pairs),
// tag (key:value, repeatable) and traceID (repeatable: those traces
// instead of a search). lookback, which the Jaeger UI sends too, is the
// UI's own: start and end already say it.
func parseSearch(v url.Values, now time.Time) (searchQuery, error) {
	var sq searchQuery
	for _, s := range v["traceID"] {
		id, err := parseTraceID(s)
		if err != nil {
			return sq, fmt.Errorf("cannot parse traceID param: %w", err)
		}
		sq.traceIDs = append(sq.traceIDs, id)
	}
	q := &sq.q
	q.Service, q.Operation = v.Get("service"), v.Get("operation")
	var err error
	if q.Start, err = parseMicros(v, "start", now.Add(-DefaultSearchLookback)); err != nil {
		return sq, err
	}
	if q.End, err = parseMicros(v, "end", now); err != nil {
		return sq, err
	}
	tags, err := parseTags(v["tag"], v["tags"])
	if err != nil {
		return sq, err
	}
	applyTags(q, tags)
	q.Limit = DefaultLimit
	if s := v.Get("limit"); s != "" {
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return sq, paramError("limit", err)
		}
		// Jaeger passes any number on to storage; ours caps it.
		if n > 0 {
			q.Limit = int(min(n, store.MaxLimit))
		}
	}
	if q.MinDuration, err = parseDuration(v, "minDuration"); err != nil {
		return sq, err
	}
	if q.MaxDuration, err = parseDuration(v, "maxDuration"); err != nil {
		return sq, err
	}
	if len(sq.traceIDs) == 0 && q.Service == "" {
		return sq, errServiceRequired
	}
	if q.MinDuration != 0 && q.MaxDuration != 0 && q.MaxDuration < q.MinDuration {
		return sq, errMaxBelowMin
	}
	sq.empty = q.Start.After(q.End)
	return sq, nil
}

// applyTags turns Jaeger tag filters into the store's: error=true and
// otel.status_code=ERROR, which Jaeger shows for an error status, ask for
// errors; the others are attributes, sorted by key so that a query is
// always built the same way.
func applyTags(q *store.TraceQuery, tags map[string]string) {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := tags[k]
		if (k == tagError && v == "true") || (k == tagStatusCode && v == "ERROR") {
			q.ErrorsOnly = true
			continue
		}
		q.Attributes = append(q.Attributes, store.AttributeFilter{Key: k, Value: v})
	}
}

// minTime and maxTime are the times Unix nanoseconds, the stores' unit,
// can hold; parameters beyond are clamped to them.
var minTime, maxTime = time.Unix(0, 0), time.Unix(0, math.MaxInt64)

// parseMicros reads a time in Unix microseconds; def when absent.
func parseMicros(v url.Values, name string, def time.Time) (time.Time, error) {
	return parseUnix(v, name, time.Microsecond, def)
}

func parseUnix(v url.Values, name string, unit time.Duration, def time.Time) (time.Time, error) {
	s := v.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, paramError(name, err)
	}
	switch {
	case n <= 0:
		return minTime, nil
	case n >= maxTime.UnixNano()/int64(unit):
		return maxTime, nil
	}
	return time.Unix(0, n*int64(unit)), nil
}

// parseDuration reads a Go duration (100ms, 1.5s); zero when absent.
func parseDuration(v url.Values, name string) (time.Duration, error) {
	s := v.Get(name)
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, paramError(name, err)
	}
	return d, nil
}

// parseTags merges tag=key:value parameters and tags parameters. A tags
// value is a JSON object of strings, as the Jaeger UI and Grafana send it,
// or else logfmt (key=value key2="quoted value"), the form Grafana's query
// editor takes, for a client that passes it on unconverted.
func parseTags(simple, structured []string) (map[string]string, error) {
	tags := make(map[string]string)
	for _, t := range simple {
		k, v, ok := strings.Cut(t, ":")
		if !ok {
			return nil, fmt.Errorf("malformed 'tag' parameter, expecting key:value, received: %s", t)
		}
		tags[k] = v
	}
	for _, t := range structured {
		if s := strings.TrimSpace(t); s == "" || s[0] == '{' {
			var m map[string]string
			if err := json.Unmarshal([]byte(t), &m); err != nil {
				return nil, fmt.Errorf("malformed 'tags' parameter, cannot unmarshal JSON: %w", err)
			}
			for k, v := range m {
				tags[k] = v
			}
			continue
		}
		if err := parseLogfmt(t, tags); err != nil {
			return nil, fmt.Errorf("malformed 'tags' parameter, expecting a JSON object or logfmt key=value pairs: %w", err)
		}
	}
	return tags, nil
}

// parseLogfmt reads space-separated key=value pairs into into; a value may
// be double-quoted, with backslash escapes, and a key alone has the value
// "".
func parseLogfmt(s string, into map[string]string) error {
	for i := 0; i < len(s); {
		if s[i] == ' ' || s[i] == '\t' {
			i++
			continue
		}
		start := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' && s[i] != '"' {
			i++
		}
		key := s[start:i]
		if key == "" {
			return fmt.Errorf("unexpected %q at offset %d", s[i], i)
		}
		if i == len(s) || s[i] != '=' {
			if i < len(s) && s[i] == '"' {
				return fmt.Errorf("unexpected '\"' at offset %d", i)
			}
			into[key] = ""
			continue
		}
		i++ // '='
		if i < len(s) && s[i] == '"' {
			end := i + 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(s) {
				return fmt.Errorf("unterminated quoted value of %q", key)
			}
			v, err := strconv.Unquote(s[i : end+1])
			if err != nil {
				return fmt.Errorf("quoted value of %q: %w", key, err)
			}
			into[key] = v
			i = end + 1
			continue
		}
		start = i
		for i < len(s) && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		into[key] = s[start:i]
	}
	return nil
}

// parseTraceID reads a trace ID as Jaeger does: 1 to 32 hex digits, the
// missing ones leading zeros, so that a 64-bit ID may be written with 16.
func parseTraceID(s string) (telemetry.TraceID, error) {
	var id telemetry.TraceID
	if len(s) > 32 {
		return id, fmt.Errorf("TraceID cannot be longer than 32 hex characters: %s", s)
	}
	if s == "" {
		return id, errors.New("TraceID is empty")
	}
	hi, lo := "", s
	if len(s) > 16 {
		hi, lo = s[:len(s)-16], s[len(s)-16:]
	}
	for half, part := range [2]string{hi, lo} {
		if part == "" {
			continue
		}
		n, err := strconv.ParseUint(part, 16, 64)
		if err != nil {
			return id, err
		}
		for i := range 8 {
			id[half*8+7-i] = byte(n >> (8 * i))
		}
	}
	return id, nil
}

// dependenciesRange reads /dependencies parameters: endTs (Unix
// milliseconds, default now) and lookback (milliseconds, default 24h).
func dependenciesRange(v url.Values, now time.Time) (start, end time.Time, err error) {
	if end, err = parseUnix(v, "endTs", time.Millisecond, now); err != nil {
		return
	}
	lookback := DefaultDependenciesLookback
	if s := v.Get("lookback"); s != "" {
		n, e := strconv.ParseInt(s, 10, 64)
		if e != nil {
			return start, end, paramError("lookback", e)
		}
		lookback = time.Duration(min(max(n, 0), math.MaxInt64/int64(time.Millisecond))) * time.Millisecond
	}
	start = end.Add(-lookback)
	if start.Before(minTime) {
		start = minTime
	}
	return start, end, nil
}
