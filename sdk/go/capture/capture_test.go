package capture

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/tracekit-oss/tracekit/sdk/go/pii"
)

// roundTrip encodes a captured tree as JSON and back: a snapshot must always
// encode, and comparing decoded trees keeps expected values short.
func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("captured tree does not encode as JSON: %v\n%#v", err, v)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// f captures vars and compares the JSON of the result with want.
func check(t *testing.T, vars map[string]any, lim Limits, scrub *pii.Scrubber, want string) Stats {
	t.Helper()
	got, stats := Capture(vars, lim, scrub)
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	if g := roundTrip(t, got); !reflect.DeepEqual(g, w) {
		b, _ := json.Marshal(got)
		t.Fatalf("Capture() =\n%s\nwant\n%s", b, want)
	}
	return stats
}

func TestScalars(t *testing.T) {
	type myInt int
	type myString string
	vars := map[string]any{
		"s": "hello", "i": 42, "i8": int8(-8), "u": uint64(math.MaxUint64), "f": 2.5, "f32": float32(0.5),
		"b": true, "nil": nil, "nan": math.NaN(), "inf": math.Inf(-1), "named": myInt(7), "ns": myString("x"),
		"c": complex(1, 2), "when": time.Date(2024, 1, 15, 10, 30, 0, 5, time.UTC),
		"ch": make(chan int), "fn": func(int) error { return nil }, "ptr": new(int),
	}
	check(t, vars, DefaultLimits(), nil, `{
		"s": "hello", "i": 42, "i8": -8, "u": 18446744073709551615, "f": 2.5, "f32": 0.5,
		"b": true, "nil": null, "nan": "NaN", "inf": "-Inf", "named": 7, "ns": "x",
		"c": "(1+2i)", "when": "2024-01-15T10:30:00.000000005Z",
		"ch": "chan int", "fn": "func(int) error", "ptr": 0}`)
}

type address struct {
	Street string
	City   string
	geo    *geo
}

type geo struct{ Lat, Lon float64 }

type user struct {
	ID        string
	Email     string
	Password  string
	APIKey    string
	Roles     []string
	Address   *address
	CreatedAt time.Time
	note      string
	updatedAt time.Time
	lastErr   error
	Next      *user
}

func TestStructs(t *testing.T) {
	u := &user{
		ID: "u-1", Email: "jane@example.com", Password: "hunter2", APIKey: "k-123",
		Roles:     []string{"admin"},
		Address:   &address{Street: "1 Main St", City: "Paris", geo: &geo{48.85, 2.35}},
		CreatedAt: time.Date(2024, 1, 15, 0, 0, 0, 0, time.UTC),
		note:      "call +1-555-123-4567", updatedAt: time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC),
		lastErr: errors.New("timeout after 5s"),
	}
	u.Next = u // a cycle
	// Depth 3: user (1), Address (2), geo (3) are expanded; in the copy,
	// Next (2) is expanded and its Address's geo (4) is not. Next.Next is u
	// again, on the path: a cycle.
	stats := check(t, map[string]any{"user": u, "copy": *u}, DefaultLimits(), pii.Default(), `{
		"user": {"ID": "u-1", "Email": "[REDACTED:email]", "Password": "[REDACTED:password]",
			"APIKey": "[REDACTED:sensitive_name]", "Roles": ["admin"],
			"Address": {"Street": "1 Main St", "City": "Paris", "geo": {"Lat": 48.85, "Lon": 2.35}},
			"CreatedAt": "2024-01-15T00:00:00Z", "note": "call [REDACTED:phone]",
			"updatedAt": "2024-02-01T00:00:00Z", "lastErr": "timeout after 5s", "Next": "[cycle]"},
		"copy": {"ID": "u-1", "Email": "[REDACTED:email]", "Password": "[REDACTED:password]",
			"APIKey": "[REDACTED:sensitive_name]", "Roles": ["admin"],
			"Address": {"Street": "1 Main St", "City": "Paris", "geo": {"Lat": 48.85, "Lon": 2.35}},
			"CreatedAt": "2024-01-15T00:00:00Z", "note": "call [REDACTED:phone]",
			"updatedAt": "2024-02-01T00:00:00Z", "lastErr": "timeout after 5s",
			"Next": {"ID": "u-1", "Email": "[REDACTED:email]", "Password": "[REDACTED:password]",
				"APIKey": "[REDACTED:sensitive_name]", "Roles": ["admin"],
				"Address": {"Street": "1 Main St", "City": "Paris", "geo": "[truncated]"},
				"CreatedAt": "2024-01-15T00:00:00Z", "note": "call [REDACTED:phone]",
				"updatedAt": "2024-02-01T00:00:00Z", "lastErr": "timeout after 5s", "Next": "[cycle]"}}
	}`)
	if stats.Redacted != 12 || stats.Truncated != 1 {
		t.Errorf("stats = %+v, want 12 redacted, 1 truncated", stats)
	}
	if u.Password != "hunter2" || u.Email != "jane@example.com" {
		t.Fatal("Capture modified the captured value")
	}
}

func TestDepth(t *testing.T) {
	deep := map[string]any{"l2": map[string]any{"l3": map[string]any{"l4": map[string]any{"x": 1}, "s": "kept"}}}
	f := func(depth int, want string) {
		t.Helper()
		lim := DefaultLimits()
		lim.MaxDepth = depth
		check(t, map[string]any{"l1": deep, "list": []any{[]any{[]any{1}}}}, lim, nil, want)
	}
	f(3, `{"l1": {"l2": {"l3": {"l4": "[truncated]", "s": "kept"}}}, "list": [[[1]]]}`)
	f(2, `{"l1": {"l2": {"l3": "[truncated]"}}, "list": [["[truncated]"]]}`)
	f(1, `{"l1": {"l2": "[truncated]"}, "list": ["[truncated]"]}`)
	f(4, `{"l1": {"l2": {"l3": {"l4": {"x": 1}, "s": "kept"}}}, "list": [[[1]]]}`)
	f(99, `{"l1": {"l2": {"l3": {"l4": {"x": 1}, "s": "kept"}}}, "list": [[[1]]]}`) // clamped to 10
}

func TestStrings(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxString = 5
	long := "héllo wörld"
	got, stats := Capture(map[string]any{"s": long, "short": "héllo", "b": []byte("abcdefgh")}, lim, nil)
	if got["s"] != "héllo…[truncated 7 bytes]" || got["short"] != "héllo" || got["b"] != "abcde…[truncated 3 bytes]" {
		t.Fatalf("Capture() = %q", got)
	}
	if stats.Truncated != 2 {
		t.Fatalf("stats = %+v", stats)
	}

	// A secret that runs past the cut is still recognised whole.
	lim.MaxString = 30
	jwt := "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	got, _ = Capture(map[string]any{"header": jwt}, lim, pii.Default())
	if s := got["header"].(string); !strings.HasPrefix(s, "Bearer [REDACTED:jwt]") || strings.Contains(s, "eyJ") {
		t.Fatalf("long secret captured as %q", s)
	}

	lim.MaxString = -1
	got, _ = Capture(map[string]any{"s": strings.Repeat("x", 5000)}, lim, nil)
	if len(got["s"].(string)) != 5000 {
		t.Fatal("MaxString -1 truncated")
	}
}

func TestBytes(t *testing.T) {
	check(t, map[string]any{
		"text":   []byte(`{"email":"jane@example.com"}`),
		"binary": []byte{0, 1, 2, 0xff},
		"big":    make([]byte, 100),
		"hash":   [4]byte{0xde, 0xad, 0xbe, 0xef},
	}, DefaultLimits(), pii.Default(), `{
		"text": "{\"email\":\"[REDACTED:email]\"}",
		"binary": "hex:000102ff (4 bytes)",
		"big": "hex:0000000000000000000000000000000000000000000000000000000000000000… (100 bytes)",
		"hash": "hex:deadbeef (4 bytes)"}`)
}

func TestCollections(t *testing.T) {
	lim := DefaultLimits()
	lim.MaxCollection = 3
	m := map[string]int{}
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		m[k] = 1
	}
	got, stats := Capture(map[string]any{
		"slice": []int{1, 2, 3, 4, 5},
		"any":   []any{1, 2, 3, 4},
		"map":   m,
		"short": []string{"x"},
		"array": [5]int{1, 2, 3, 4, 5},
	}, lim, nil)
	tree := roundTrip(t, got).(map[string]any)
	for name, want := range map[string]string{
		"slice": `[1,2,3,{"_truncated":2}]`, "any": `[1,2,3,{"_truncated":1}]`,
		"short": `["x"]`, "array": `[1,2,3,{"_truncated":2}]`,
	} {
		b, _ := json.Marshal(tree[name])
		if string(b) != want {
			t.Errorf("%s = %s, want %s", name, b, want)
		}
	}
	if mm := tree["map"].(map[string]any); len(mm) != 4 || mm["_truncated"] != 2.0 {
		t.Errorf("map = %v, want 3 entries and _truncated 2", mm)
	}
	if stats.Truncated != 4 {
		t.Errorf("stats = %+v", stats)
	}
}

func TestPayloadLimit(t *testing.T) {
	vars := map[string]any{}
	for _, name := range []string{"a", "b", "c", "d"} {
		vars[name] = strings.Repeat("x", 200)
	}
	lim := DefaultLimits()
	lim.MaxPayload = 300
	stats := check(t, vars, lim, nil, `{
		"a": "`+strings.Repeat("x", 200)+`", "b": "`+strings.Repeat("x", 200)+`",
		"c": {"_truncated": true}, "d": {"_truncated": true}, "_truncated": true}`)
	if !stats.PayloadExceeded || stats.TimedOut {
		t.Fatalf("stats = %+v", stats)
	}

	// Inside a variable, collections stop where the budget ran out.
	lim.MaxPayload = 50
	got, _ := Capture(map[string]any{"list": []any{"0123456789", "0123456789", "0123456789", "0123456789", "0123456789"}}, lim, nil)
	list := got["list"].([]any)
	if last := list[len(list)-1].(map[string]any); last[TruncatedKey] == nil || len(list) == 6 {
		t.Fatalf("list = %v, want a truncated list", list)
	}
}

func TestTimeout(t *testing.T) {
	big := make([]any, 0, 100)
	for range 100 {
		big = append(big, map[string]any{"a": 1, "b": "two", "c": []any{3, 4}})
	}
	vars := map[string]any{"a": big, "b": big, "c": big, "d": big}
	lim := DefaultLimits()
	lim.Timeout = time.Nanosecond
	got, stats := Capture(vars, lim, nil)
	if !stats.TimedOut || got[TruncatedKey] != true {
		t.Fatalf("stats = %+v, _truncated = %v", stats, got[TruncatedKey])
	}
	roundTrip(t, got)
}

// boom is an error whose Error method panics.
type boom struct{}

func (boom) Error() string { panic("Error() exploded") }

type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg }

// stringer would be called by fmt; capture must never call it.
type stringer struct{ Secret string }

func (stringer) String() string { panic("String() must not be called") }

func TestCrashIsolation(t *testing.T) {
	var typedNil *nilErr
	got, stats := Capture(map[string]any{
		"boom":     boom{},
		"typedNil": error(typedNil),
		"inStruct": struct{ Err error }{boom{}},
		"stringer": stringer{Secret: "x"},
		"ok":       "still captured",
	}, DefaultLimits(), nil)
	if got["boom"] != "[error: Error() panicked: Error() exploded]" {
		t.Errorf("boom = %q", got["boom"])
	}
	if s, _ := got["typedNil"].(string); !strings.HasPrefix(s, "[error: Error() panicked: runtime error: invalid memory address") {
		t.Errorf("typedNil = %q", got["typedNil"])
	}
	if m := got["inStruct"].(map[string]any); !strings.HasPrefix(m["Err"].(string), "[error: Error() panicked") {
		t.Errorf("inStruct = %q", got["inStruct"])
	}
	if m := got["stringer"].(map[string]any); m["Secret"] != "x" {
		t.Errorf("stringer = %v", got["stringer"])
	}
	if got["ok"] != "still captured" || stats.Errors != 3 {
		t.Errorf("ok = %q, stats = %+v", got["ok"], stats)
	}
}

// TestWalkPanic makes the reflection walk itself fault, as a corrupt
// pointer in application memory would: the variable becomes an error marker,
// and the others are captured.
func TestWalkPanic(t *testing.T) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	type holder struct{ P *int64 }
	bad := (*int64)(unsafe.Add(unsafe.Pointer(nil), 0x2000)) // unmapped: Linux maps nothing below 64 KiB
	got, stats := Capture(map[string]any{"bad": holder{P: bad}, "good": 1}, DefaultLimits(), nil)
	if s, _ := got["bad"].(string); !strings.HasPrefix(s, "[capture error: runtime error: invalid memory address") {
		t.Fatalf("bad = %#v", got["bad"])
	}
	if got["good"] != 1 || stats.Errors != 1 {
		t.Fatalf("good = %v, stats = %+v", got["good"], stats)
	}
}

func TestCycles(t *testing.T) {
	m := map[string]any{"name": "root"}
	m["self"] = m
	type node struct {
		Name string
		Next *node
	}
	a := &node{Name: "a"}
	a.Next = &node{Name: "b", Next: a}
	var self any
	self = &self
	lim := DefaultLimits()
	lim.MaxDepth = 10
	check(t, map[string]any{"m": m, "ring": a, "self": self}, lim, nil, `{
		"m": {"name": "root", "self": "[cycle]"},
		"ring": {"Name": "a", "Next": {"Name": "b", "Next": "[cycle]"}},
		"self": "[cycle]"}`)
}

func TestPII(t *testing.T) {
	vars := map[string]any{
		"request": map[string]any{
			"headers": map[string]any{"Authorization": "Bearer abc123def456", "Content-Type": "application/json"},
			"body":    map[string]any{"email": "jane@example.com", "password": "hunter2", "pin": 1234, "token": ""},
		},
		"emails":                map[string]int{"jane@example.com": 1, "john@example.com": 1},
		"session_id":            "s-42",
		"message":               "password reset requested",
		"jane@example.com":      "as a variable name",
		"aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	}
	stats := check(t, vars, DefaultLimits(), pii.Default(), `{
		"request": {
			"headers": {"Authorization": "[REDACTED:sensitive_name]", "Content-Type": "application/json"},
			"body": {"email": "[REDACTED:email]", "password": "[REDACTED:password]", "pin": "[REDACTED:sensitive_name]", "token": ""}},
		"emails": {"[REDACTED:email]": 1, "[REDACTED:email]#2": 1},
		"session_id": "[REDACTED:sensitive_name]",
		"message": "password reset requested",
		"[REDACTED:email]": "as a variable name",
		"aws_secret_access_key": "[REDACTED:aws_secret]"}`)
	if stats.Redacted != 9 {
		t.Errorf("stats = %+v, want 9 redactions", stats)
	}

	// Without a scrubber nothing is redacted.
	got, stats := Capture(vars, DefaultLimits(), nil)
	if got["session_id"] != "s-42" || stats.Redacted != 0 {
		t.Errorf("nil scrubber redacted: %v %+v", got["session_id"], stats)
	}
}

func TestLimitsNormalized(t *testing.T) {
	got := Limits{MaxDepth: 50, MaxString: -1}.normalized()
	d := DefaultLimits()
	if got.MaxDepth != MaxDepthLimit || got.MaxString != -1 || got.MaxCollection != d.MaxCollection ||
		got.MaxPayload != d.MaxPayload || got.Timeout != d.Timeout {
		t.Fatalf("normalized() = %+v", got)
	}
}

func TestConcurrentCapture(t *testing.T) {
	vars := benchVars()
	done := make(chan Stats)
	for range 4 {
		go func() {
			var s Stats
			for range 50 {
				_, s = Capture(vars, DefaultLimits(), pii.Default())
			}
			done <- s
		}()
	}
	for range 4 {
		if s := <-done; s.Errors != 0 || s.Redacted == 0 {
			t.Fatalf("stats = %+v", s)
		}
	}
}
