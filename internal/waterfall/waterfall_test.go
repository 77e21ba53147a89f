package waterfall

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tracekit-oss/tracekit/internal/api"
)

var update = flag.Bool("update", false, "rewrite golden files")

const testTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"

var testBase = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// def is one span of a test trace, timed from testBase.
type def struct {
	id, parent, service, op string
	at, dur                 time.Duration
	err                     bool
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

func build(defs ...def) api.TraceJSON {
	tr := api.TraceJSON{TraceID: testTraceID}
	for _, d := range defs {
		st := testBase.Add(d.at)
		s := api.SpanJSON{
			TraceID: testTraceID, SpanID: d.id, ParentSpanID: d.parent,
			Service: d.service, Operation: d.op, Kind: "internal",
			StartTime: st, StartTimeUnixNano: strconv.FormatInt(st.UnixNano(), 10),
			DurationNanos: int64(d.dur), Status: api.StatusJSON{Code: "unset"},
		}
		if d.err {
			s.Status = api.StatusJSON{Code: "error", Message: "failed"}
		}
		tr.Spans = append(tr.Spans, s)
	}
	return tr
}

// guideTrace is the guide's example: React frontend -> Node API -> Go
// service with a database query, 420/380/360/300/40/240/240/180 ms.
func guideTrace() api.TraceJSON {
	return build(
		def{"a1", "", "web-frontend", "Load Users", 0, ms(420), false},
		def{"b2", "a1", "web-frontend", "fetch /api/users", ms(20), ms(380), false},
		def{"c3", "b2", "api-gateway", "GET /api/users", ms(30), ms(360), false},
		def{"d4", "c3", "api-gateway", "request handler - /api/users", ms(60), ms(300), false},
		def{"e5", "d4", "api-gateway", "validate-auth", ms(65), ms(40), false},
		def{"f6", "d4", "api-gateway", "GET /users", ms(110), ms(240), false},
		def{"g7", "f6", "user-service", "GET /users", ms(110), ms(240), false},
		def{"h8", "g7", "user-service", "db.Query", ms(140), ms(180), false},
	)
}

func errorTrace() api.TraceJSON {
	return build(
		def{"01", "", "api-gateway", "POST /api/checkout", 0, ms(912.4), true},
		def{"02", "01", "api-gateway", "validate-auth", ms(1.2), ms(3.8), false},
		def{"03", "01", "api-gateway", "POST", ms(6), ms(901), true},
		def{"04", "03", "order-service", "POST /orders", ms(7.5), ms(897), true},
		def{"05", "04", "order-service", "inventory.v1.Inventory/Reserve", ms(9), ms(31.7), false},
		def{"06", "05", "inventory-service", "inventory.v1.Inventory/Reserve", ms(10.1), ms(29.4), false},
		def{"07", "06", "inventory-service", "GET", ms(10.4), ms(0.41), false},
		def{"08", "06", "inventory-service", "UPDATE stock", ms(11.2), ms(27.6), false},
		def{"09", "04", "order-service", "POST", ms(42), ms(861), true},
		def{"10", "09", "payment-service", "POST /v1/charges", ms(43.3), ms(858), true},
		def{"11", "10", "payment-service", "charge", ms(44), ms(856.2), true},
	)
}

func orphanTrace() api.TraceJSON {
	return build(
		def{"r1", "", "api-gateway", "GET /api/orders", ms(5), ms(120), false},
		def{"r2", "r1", "order-service", "GET /orders", ms(10), ms(100), false},
		// Parent never arrived (its service does not export yet).
		def{"o1", "gone", "billing", "GET /invoices", ms(30), ms(40), false},
		def{"o2", "o1", "billing", "SELECT invoices", ms(35), ms(20), false},
		// A cycle of two and a span that is its own parent.
		def{"c1", "c2", "cache", "refresh", ms(60), ms(10), false},
		def{"c2", "c1", "cache", "load", ms(62), ms(5), false},
		def{"s1", "s1", "worker", "tick", 0, 0, false},
		// Clock skew: the child claims to start before its parent.
		def{"k1", "r2", "clock-skewed", "db.Query", 0, ms(30), false},
	)
}

func longNameTrace() api.TraceJSON {
	return build(
		def{"1", "", "ユーザーサービス-アジア太平洋-東京リージョン-本番", "GET /api/v2/organisations/{organisationId}/members/{memberId}/permissions", 0, ms(88), false},
		def{"2", "1", "ユーザーサービス-アジア太平洋-東京リージョン-本番", "Ünïcødé ✓ résumé naïve café — 🚀 launch sequence with a very long tail", ms(3), ms(50), false},
		def{"3", "2", "a-service-with-an-extremely-long-name-that-never-ends", "x", ms(10), ms(0.5), false},
	)
}

func hostileTrace() api.TraceJSON {
	return build(
		def{"1", "", "evil\x1b[2J\x1b[Hservice", "GET /\r\nSet-Cookie: x", 0, ms(10), false},
		def{"2", "1", "bell\a\x00\x7f\u0085", "bidi \u202egnp.exe\u202c zero\u200bwidth", ms(1), ms(5), true},
		def{"3", "1", "tab\tsep", "bad utf8 \xff\xfe line\u2028sep", ms(2), ms(3), false},
	)
}

func render(t *testing.T, tr api.TraceJSON, opt Options) string {
	t.Helper()
	var b bytes.Buffer
	if err := Render(&b, tr, opt); err != nil {
		t.Fatalf("Render: %v", err)
	}
	return b.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v (run go test ./internal/waterfall -update to create it)", path, err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (rerun with -update if intended)\n--- got ---\n%s--- want ---\n%s", path, got, want)
	}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// checkLines asserts every line fits width runes once colours are removed,
// and that nothing but colour sequences and newlines is a control character.
func checkLines(t *testing.T, out string, width int) {
	t.Helper()
	plain := ansi.ReplaceAllString(out, "")
	if !strings.HasSuffix(plain, "\n") {
		t.Errorf("output does not end with a newline")
	}
	for i, line := range strings.Split(strings.TrimSuffix(plain, "\n"), "\n") {
		if n := utf8.RuneCountInString(line); n > width {
			t.Errorf("line %d is %d runes, wider than %d: %q", i+1, n, width, line)
		}
		if n := columns(line); n > width {
			t.Errorf("line %d takes %d columns, wider than %d: %q", i+1, n, width, line)
		}
		for _, c := range line {
			if !safeRune(c) && c != utf8.RuneError {
				t.Errorf("line %d holds control character %U: %q", i+1, c, line)
			}
		}
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name  string
		trace api.TraceJSON
		opt   Options
	}{
		{"guide", guideTrace(), Options{}},
		{"guide_narrow", guideTrace(), Options{Width: 60}},
		{"error", errorTrace(), Options{}},
		{"error_color", errorTrace(), Options{Color: true}},
		{"orphans", orphanTrace(), Options{Width: 90}},
		{"long_names", longNameTrace(), Options{Width: 72}},
		{"hostile", hostileTrace(), Options{Width: 80}},
		{"single", build(def{"1", "", "user-service", "GET /healthz", 0, ms(1.234), false}), Options{Width: 70}},
		{"zero", build(
			def{"1", "", "edge", "instant", 0, 0, false},
			def{"2", "1", "edge", "also instant", 0, 0, false},
		), Options{Width: 50}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := render(t, tt.trace, tt.opt)
			w := tt.opt.Width
			if w == 0 {
				w = DefaultWidth
			}
			checkLines(t, out, w)
			if got, want := strings.Count(out, "\n"), len(tt.trace.Spans)+5; got != want {
				t.Errorf("got %d lines, want %d (header, rule, one per span, rule, two footer lines)", got, want)
			}
			checkGolden(t, tt.name, out)
		})
	}
}

func TestGuideDurations(t *testing.T) {
	out := render(t, guideTrace(), Options{})
	lines := strings.Split(out, "\n")[2:10]
	want := []string{"420ms", "380ms", "360ms", "300ms", "40.0ms", "240ms", "240ms", "180ms"}
	for i, line := range lines {
		if !strings.HasSuffix(line, " "+want[i]) {
			t.Errorf("row %d = %q, want duration %s", i+1, line, want[i])
		}
	}
	if !strings.Contains(lines[0], "|"+strings.Repeat("=", 40)) {
		t.Errorf("root row does not fill the timeline: %q", lines[0])
	}
}

func TestHostileNamesNeutralised(t *testing.T) {
	for _, color := range []bool{false, true} {
		out := render(t, hostileTrace(), Options{Color: color})
		plain := ansi.ReplaceAllString(out, "")
		for _, bad := range []string{"\x1b", "\r", "\a", "\x00", "\x7f", "\t", "\u202e", "\u200b", "\u2028", "\u0085", "\xff"} {
			if strings.Contains(plain, bad) {
				t.Errorf("color=%v: output holds %q", color, bad)
			}
		}
		if got := strings.Count(out, "\n"); got != 3+5 {
			t.Errorf("color=%v: a newline in a name split a row: %d lines", color, got)
		}
		if !strings.Contains(plain, "evil�[2J�[Hservice") {
			t.Errorf("color=%v: escape sequence not shown as text:\n%s", color, plain)
		}
	}
}

func TestRenderErrors(t *testing.T) {
	var b bytes.Buffer
	if err := Render(&b, api.TraceJSON{TraceID: testTraceID}, Options{}); !errors.Is(err, ErrEmptyTrace) {
		t.Errorf("empty trace: err = %v, want ErrEmptyTrace", err)
	}
	if err := Render(&b, guideTrace(), Options{Width: MinWidth - 1}); err == nil || !strings.Contains(err.Error(), "at least 40") {
		t.Errorf("narrow width: err = %v, want one naming the minimum", err)
	}
	if err := Render(&b, guideTrace(), Options{Width: -5}); err == nil {
		t.Errorf("negative width: no error")
	}
	werr := errors.New("disk full")
	if err := Render(failWriter{werr}, guideTrace(), Options{}); !errors.Is(err, werr) {
		t.Errorf("write error: err = %v, want it wrapped", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }

// TestEveryWidthFits renders random traces at every width from MinWidth up
// and checks no line is wider, with and without colour.
func TestEveryWidthFits(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tr := randomTrace(rng, 200)
	tr.Spans = append(tr.Spans, longNameTrace().Spans...)
	tr.Spans = append(tr.Spans, hostileTrace().Spans...)
	for w := MinWidth; w <= 160; w += 7 {
		for _, c := range []bool{false, true} {
			out := render(t, tr, Options{Width: w, Color: c})
			checkLines(t, out, w)
		}
	}
}

func TestCyclesAndOrphansRenderEverySpanOnce(t *testing.T) {
	tr := orphanTrace()
	r := newRenderer(tr, DefaultWidth, false)
	r.layout()
	// o1 (missing parent), c1 (cycle), s1 (own parent).
	if r.orphans != 3 {
		t.Errorf("orphans = %d, want 3", r.orphans)
	}
	var order []string
	for _, rw := range r.rows {
		id := strings.Repeat(".", int(rw.Depth)) + tr.Spans[rw.Span].SpanID
		if rw.Orphan {
			id += "*"
		}
		order = append(order, id)
	}
	want := "s1* r1 .r2 ..k1 o1* .o2 c1* .c2"
	if got := strings.Join(order, " "); got != want {
		t.Errorf("tree order = %s, want %s", got, want)
	}
}

func TestSiblingsInStartOrderWhateverTheInputOrder(t *testing.T) {
	tr := guideTrace()
	want := render(t, tr, Options{})
	rng := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		rng.Shuffle(len(tr.Spans), func(i, j int) { tr.Spans[i], tr.Spans[j] = tr.Spans[j], tr.Spans[i] })
		if got := render(t, tr, Options{}); got != want {
			t.Fatalf("output depends on span order:\n%s\nwant\n%s", got, want)
		}
	}
}

func TestLargeTrace(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	tr := randomTrace(rng, 10_000)
	out := render(t, tr, Options{})
	if got := strings.Count(out, "\n"); got != 10_000+5 {
		t.Errorf("got %d lines", got)
	}
	checkLines(t, out, DefaultWidth)

	// A chain 10,000 deep: indentation is capped, nothing recurses.
	chain := build(def{"0", "", "svc", "op", 0, ms(10_000), false})
	for i := 1; i < 10_000; i++ {
		chain.Spans = append(chain.Spans, build(def{strconv.Itoa(i), strconv.Itoa(i - 1), "svc", "op", ms(float64(i)), ms(float64(10_000 - i)), false}).Spans...)
	}
	checkLines(t, render(t, chain, Options{}), DefaultWidth)
}

func TestFormatDuration(t *testing.T) {
	f := func(d time.Duration, want string) {
		t.Helper()
		if got := formatDuration(int64(d)); got != want {
			t.Errorf("formatDuration(%d) = %q, want %q", int64(d), got, want)
		}
	}
	f(-5, "0s")
	f(0, "0s")
	f(1, "1ns")
	f(999, "999ns")
	f(1000, "1.00µs")
	f(1234, "1.23µs")
	f(1235, "1.24µs")
	f(9_994, "9.99µs")
	f(9_995, "10.0µs")
	f(12_345, "12.3µs")
	f(99_950, "100µs")
	f(999_499, "999µs")
	f(999_500, "1.00ms")
	f(40*time.Millisecond, "40.0ms")
	f(420*time.Millisecond, "420ms")
	f(999_600*time.Microsecond, "1.00s")
	f(2500*time.Millisecond, "2.50s")
	f(61*time.Second, "61.0s")
	f(999*time.Second, "999s")
	f(999_500*time.Millisecond, "1000s")
	f(3*time.Hour, "10800s")
	f(1<<63-1, "9223372037s")
}

func TestBarCells(t *testing.T) {
	f := func(start, end, total int64, width, wantFrom, wantTo int) {
		t.Helper()
		from, to := barCells(start, end, total, width)
		if from != wantFrom || to != wantTo {
			t.Errorf("barCells(%d, %d, %d, %d) = [%d, %d), want [%d, %d)", start, end, total, width, from, to, wantFrom, wantTo)
		}
	}
	f(0, 420, 420, 40, 0, 40)   // the whole trace
	f(20, 400, 420, 40, 1, 39)  // cells it overlaps, partly or fully
	f(0, 10, 100, 10, 0, 1)     // exactly one cell
	f(10, 20, 100, 10, 1, 2)    // ends on a boundary: next cell stays empty
	f(50, 50, 100, 10, 5, 6)    // zero duration still shows one cell
	f(100, 100, 100, 10, 9, 10) // zero duration at the very end
	f(1, 2, 1_000_000, 40, 0, 1)
	f(-30, 50, 100, 10, 0, 5)  // clock skew before the trace: clamped
	f(90, 500, 100, 10, 9, 10) // past the end: clamped
	f(70, 30, 100, 10, 7, 8)   // end before start
	f(0, 0, 0, 10, 0, 1)       // instant trace
	f(0, 5, 10, 0, 0, 0)       // no room
	f(1<<62, 1<<63-1, 1<<63-1, 100, 50, 100)
}

func TestSanitizeAndTruncate(t *testing.T) {
	s := func(in, want string) {
		t.Helper()
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	s("GET /api/users", "GET /api/users")
	s("ユーザー ✓ 🚀", "ユーザー ✓ 🚀")
	s("a\x1b[31mb", "a�[31mb")
	s("line\nbreak\r", "line�break�")
	s("\u202eevil", "�evil")
	s("\xff", "�")

	tr := func(in string, n int, want string) {
		t.Helper()
		if got := truncate(in, n); got != want {
			t.Errorf("truncate(%q, %d) = %q, want %q", in, n, got, want)
		}
	}
	tr("checkout", 8, "checkout")
	tr("checkout", 7, "checko…")
	tr("ユーザーサービス", 7, "ユーザ…")
	tr("ユーザーサービス", 6, "ユー…")
	tr("aユ", 2, "a…")
	tr("🚀🚀🚀", 1, "…")
	tr("abc", 0, "")

	c := func(in string, want int) {
		t.Helper()
		if got := columns(in); got != want {
			t.Errorf("columns(%q) = %d, want %d", in, got, want)
		}
	}
	c("GET /users", 10)
	c("µs", 2)
	c("ユーザー", 8)
	c("🚀 go", 5)
	c("한국어", 6)
	c("e\u0301", 2) // a combining mark counts as one: never too narrow
}

// randomTrace builds a trace of n spans shaped like real ones: a few
// services, fan-out of a handful, children inside their parents.
func randomTrace(rng *rand.Rand, n int) api.TraceJSON {
	services := []string{"web-frontend", "api-gateway", "user-service", "order-service", "payment-service", "inventory-service"}
	ops := []string{"GET /api/users", "db.Query", "SELECT orders", "charge", "redis GET", "validate-auth", "POST /api/checkout"}
	defs := []def{{"s0", "", services[0], ops[0], 0, time.Duration(n) * time.Millisecond, false}}
	for i := 1; i < n; i++ {
		p := defs[rng.IntN(len(defs))]
		at := p.at + time.Duration(rng.Int64N(int64(p.dur)/2+1))
		dur := time.Duration(rng.Int64N(int64(p.at+p.dur-at) + 1))
		defs = append(defs, def{
			id: fmt.Sprintf("s%d", i), parent: p.id,
			service: services[rng.IntN(len(services))], op: ops[rng.IntN(len(ops))],
			at: at, dur: dur, err: rng.IntN(50) == 0,
		})
	}
	return build(defs...)
}
