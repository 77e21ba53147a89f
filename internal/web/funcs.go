package web

import (
	"hash/fnv"
	"html/template"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
)

func (d *Dashboard) funcs() template.FuncMap {
	return template.FuncMap{
		"dur":        formatDuration,
		"time":       formatTime,
		"shortTime":  func(t time.Time) string { return t.UTC().Format("15:04:05.000") },
		"isoTime":    func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
		"ago":        func(t time.Time) string { return roundDuration(d.now().Sub(t)) + " ago" },
		"agoPtr":     func(t *time.Time) string { return agoPtr(d.now(), t) },
		"expiresIn":  d.expiresIn,
		"rate":       rate,
		"errorRate":  errorRate,
		"services":   servicesOf,
		"contains":   slices.Contains[[]string],
		"kind":       func(s store.OperationStats) string { return s.Kind.String() },
		"add":        func(a, b int) int { return a + b },
		"query":      withQuery,
		"pathEscape": url.PathEscape,
		"short":      func(s string, n int) string { return shorten(s, n) },
	}
}

// formatDuration prints a duration with three significant digits.
func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Microsecond:
		return strconv.FormatInt(int64(d), 10) + "ns"
	case d < time.Millisecond:
		return trimFloat(float64(d)/1e3, 3-digits(float64(d)/1e3)) + "µs"
	case d < time.Second:
		return trimFloat(float64(d)/1e6, 3-digits(float64(d)/1e6)) + "ms"
	case d < time.Minute:
		return trimFloat(d.Seconds(), 3-digits(d.Seconds())) + "s"
	case d%(24*time.Hour) == 0:
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return d.Round(time.Second).String()
}

func digits(v float64) int {
	switch {
	case v >= 100:
		return 3
	case v >= 10:
		return 2
	}
	return 1
}

// trimFloat formats v with at most prec decimals, without trailing zeros.
func trimFloat(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', max(prec, 0), 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// roundDuration is a human "3m", "2h", "5d".
func roundDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}

func agoPtr(now time.Time, t *time.Time) string {
	if t == nil {
		return "never"
	}
	return roundDuration(now.Sub(*t)) + " ago"
}

// paletteSize is the number of service colours in app.css (.svc0 ...).
const paletteSize = 12

// serviceClass picks a service's colour by a hash of its name, so a service
// keeps its colour on every page and in every trace.
func serviceClass(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return "svc" + strconv.Itoa(int(h.Sum32()%paletteSize))
}

// withQuery returns path with q's values plus the pairs kv (key, value, ...)
// set, for links that keep a page's filters.
func withQuery(path string, q url.Values, kv ...string) string {
	out := url.Values{}
	for k, v := range q {
		out[k] = slices.Clone(v)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			out.Del(kv[i])
		} else {
			out.Set(kv[i], kv[i+1])
		}
	}
	if len(out) == 0 {
		return path
	}
	return path + "?" + out.Encode()
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func itoa(i int) string { return strconv.Itoa(i) }

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
