// Package capture owns turning a breakpoint's variables, arbitrary Go
// values, into the JSON-serialisable tree a snapshot carries: maps, slices,
// strings, numbers, booleans and nil. It walks values read-only through
// reflect, within limits (depth, string length, collection length, payload
// size, time), passes every string and map key through a pii.Scrubber, and
// isolates the application from anything that goes wrong: a panic while
// capturing one variable becomes an error marker for that variable.
//
// It calls no application code, with one exception: a value that implements
// error is captured as its Error() string (under recover), as the guide's
// snapshots do. String methods (fmt.Stringer) are never called.
//
// It does not decide when to capture (breakpoints and conditions do) nor
// send snapshots anywhere.
package capture

import (
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tracekit-oss/tracekit/sdk/go/pii"
)

// Markers that stand in the captured tree for what was left out.
const (
	// TruncatedMarker replaces a map, slice or struct nested deeper than
	// Limits.MaxDepth.
	TruncatedMarker = "[truncated]"
	// CycleMarker replaces a pointer or map that refers back to a value on
	// the path that leads to it.
	CycleMarker = "[cycle]"
	// TruncatedKey is the key of the entry that counts what a map or struct
	// left out; a slice ends with {TruncatedKey: count}. At the top of a
	// snapshot cut by the payload or time limit, TruncatedKey is true and
	// each variable left out has the value {TruncatedKey: true}.
	TruncatedKey = "_truncated"
)

// Limits bound what one capture walks and produces. Zero fields take the
// defaults of DefaultLimits; a negative MaxString, MaxCollection, MaxPayload
// or Timeout means no limit.
type Limits struct {
	// MaxDepth is how many levels of maps, slices and structs are expanded;
	// a variable's own value is level 1. Default 3, at most 10. Pointers and
	// interfaces do not count as levels.
	MaxDepth int
	// MaxString is how many characters of a string are kept. Default 256.
	// A longer string keeps its first MaxString characters followed by
	// "…[truncated N bytes]", N counting what was cut.
	MaxString int
	// MaxCollection is how many elements of a slice or array, or entries of
	// a map or struct, are kept. Default 100. Which map entries are kept is
	// the map's iteration order: capture never sorts a large map.
	MaxCollection int
	// MaxPayload is the estimated size of the encoded snapshot, in bytes.
	// Default 64 KiB.
	MaxPayload int
	// Timeout is the wall time one capture may take. Default 2 ms.
	Timeout time.Duration

	_ struct{}
}

// MaxDepthLimit is the largest MaxDepth accepted.
const MaxDepthLimit = 10

// DefaultLimits returns the limits of the guide: depth 3, strings of 256
// characters, 100 elements per collection, 64 KiB per snapshot, 2 ms.
func DefaultLimits() Limits {
	return Limits{MaxDepth: 3, MaxString: 256, MaxCollection: 100, MaxPayload: 64 << 10, Timeout: 2 * time.Millisecond}
}

// normalized fills in defaults and clamps MaxDepth.
func (l Limits) normalized() Limits {
	d := DefaultLimits()
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	l.MaxDepth = min(l.MaxDepth, MaxDepthLimit)
	if l.MaxString == 0 {
		l.MaxString = d.MaxString
	}
	if l.MaxCollection == 0 {
		l.MaxCollection = d.MaxCollection
	}
	if l.MaxPayload == 0 {
		l.MaxPayload = d.MaxPayload
	}
	if l.Timeout == 0 {
		l.Timeout = d.Timeout
	}
	return l
}

// Stats reports what a capture left out or changed.
type Stats struct {
	Values          int  // values written into the tree
	Truncated       int  // values cut: too deep, too long, too many, or past a limit
	Redacted        int  // strings and keys the scrubber changed, values of sensitive names
	Errors          int  // variables whose capture panicked, and Error methods that panicked
	Bytes           int  // estimated size of the encoded snapshot
	PayloadExceeded bool // MaxPayload was reached and the rest left out
	TimedOut        bool // Timeout was reached and the rest left out
}

// Capture returns the snapshot tree of vars within lim, with every string
// and map key scrubbed by scrub (nil scrubs nothing). It never panics and
// never modifies vars.
func Capture(vars map[string]any, lim Limits, scrub *pii.Scrubber) (map[string]any, Stats) {
	w := walker{lim: lim.normalized(), scrub: scrub}
	w.path = w.pathBuf[:0]
	if w.lim.Timeout > 0 {
		w.deadline = time.Now().Add(w.lim.Timeout)
	}
	out := make(map[string]any, len(vars)+1)
	names := slices.Sorted(maps.Keys(vars))
	for i, name := range names {
		if w.stopped {
			for _, rest := range names[i:] {
				out[w.key(out, rest)] = map[string]any{TruncatedKey: true}
			}
			out[TruncatedKey] = true
			break
		}
		key := w.key(out, name)
		w.add(len(key) + 4)
		out[key] = w.variable(name, vars[name])
	}
	w.stats.Bytes = w.bytes
	return out, w.stats
}

// walker is the state of one capture.
type walker struct {
	lim      Limits
	scrub    *pii.Scrubber
	deadline time.Time
	bytes    int
	ticks    int
	stopped  bool
	stats    Stats
	path     []uintptr // pointers and maps on the path to the current value
	pathBuf  [MaxDepthLimit * 2]uintptr
}

// variable captures one variable, turning a panic into an error marker: the
// application must never crash because it was being debugged.
func (w *walker) variable(name string, v any) (out any) {
	depth := len(w.path)
	defer func() {
		if r := recover(); r != nil {
			w.path = w.path[:depth]
			w.stats.Errors++
			out = "[capture error: " + describePanic(r) + "]"
		}
	}()
	return w.field(name, v, 1)
}

// describePanic describes a recovered value without calling methods of
// application types: runtime errors and strings are ours to print.
func describePanic(r any) string {
	switch x := r.(type) {
	case string:
		return x
	case runtime.Error:
		return x.Error()
	default:
		return fmt.Sprintf("panic of type %T", r)
	}
}

// field captures the value of a field, variable or map entry called name:
// the whole value becomes a marker when the name is sensitive.
func (w *walker) field(name string, v any, depth int) any {
	if w.scrub.Enabled() {
		if m := w.scrub.NameMarker(name); m != "" && !isEmpty(v) {
			return w.redacted(m)
		}
	}
	return w.value(v, depth)
}

func (w *walker) redacted(marker string) string {
	w.stats.Redacted++
	w.stats.Values++
	w.add(len(marker) + 2)
	return marker
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	}
	return false
}

// value captures v, by type switch for the common types and through reflect
// for the rest.
func (w *walker) value(v any, depth int) any {
	w.tick()
	switch x := v.(type) {
	case nil:
		w.add(4)
		return nil
	case string:
		return w.str(x, len(x))
	case bool:
		w.add(5)
		return v
	case int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, uintptr:
		w.add(8)
		return v
	case float64:
		return w.float(x, v)
	case float32:
		return w.float(float64(x), v)
	case map[string]any:
		return w.mapStringAny(x, depth)
	case []any:
		return w.sliceAny(x, depth)
	case time.Time:
		w.add(32)
		return x.Format(time.RFC3339Nano)
	case []byte:
		return w.byteSlice(x)
	case error:
		return w.errorString(x)
	}
	return w.reflect(v, depth)
}

// tick counts a value and checks the deadline every 64 values.
func (w *walker) tick() {
	w.stats.Values++
	w.ticks++
	if w.ticks&63 == 0 && !w.deadline.IsZero() && time.Now().After(w.deadline) {
		w.stats.TimedOut = true
		w.stopped = true
	}
}

// add counts n bytes of payload and stops the walk past MaxPayload.
func (w *walker) add(n int) {
	w.bytes += n
	if w.lim.MaxPayload > 0 && w.bytes > w.lim.MaxPayload && !w.stopped {
		w.stats.PayloadExceeded = true
		w.stopped = true
	}
}

// key scrubs a map key, and numbers keys that scrubbing made equal
// ("[REDACTED:email]", "[REDACTED:email]#2") so that no entry is lost.
func (w *walker) key(out map[string]any, k string) string {
	s := w.scrub.String(k)
	if s == k {
		return k
	}
	w.stats.Redacted++
	if _, taken := out[s]; !taken {
		return s
	}
	for n := 2; ; n++ {
		alt := s + "#" + strconv.Itoa(n)
		if _, taken := out[alt]; !taken {
			return alt
		}
	}
}

// scrubMargin is how far past the kept part of a long string the scrubber
// looks, so that a secret that starts in the kept part and runs past the
// cut is still recognised whole.
const scrubMargin = 1024

// str scrubs and truncates a string; total is the length of the value it
// was cut from (a []byte may be cut before it gets here).
func (w *walker) str(s string, total int) string {
	maxRunes := w.lim.MaxString
	if maxRunes < 0 || (total <= maxRunes && len(s) == total) {
		out := w.scrub.String(s)
		if out != s {
			w.stats.Redacted++
		}
		w.add(len(out) + 2)
		return out
	}
	// Scrub a window a little longer than what is kept: scrubbing costs
	// time in proportion to length, and what is cut is never sent.
	kept := 0
	for n := 0; n < maxRunes && kept < len(s); n++ {
		_, size := utf8.DecodeRuneInString(s[kept:])
		kept += size
	}
	window := s
	if limit := kept + scrubMargin; len(window) > limit {
		for limit > kept && !utf8.RuneStart(s[limit]) {
			limit--
		}
		window = s[:limit]
	}
	scrubbed := w.scrub.String(window)
	if scrubbed != window {
		w.stats.Redacted++
	}
	cut, n := 0, 0
	for cut < len(scrubbed) && n < maxRunes {
		_, size := utf8.DecodeRuneInString(scrubbed[cut:])
		cut += size
		n++
	}
	if cut == len(scrubbed) && len(window) == total {
		w.add(len(scrubbed) + 2)
		return scrubbed
	}
	w.stats.Truncated++
	omitted := len(scrubbed) - cut + total - len(window)
	out := scrubbed[:cut] + "…[truncated " + strconv.Itoa(omitted) + " bytes]"
	w.add(len(out) + 2)
	return out
}

// float keeps finite numbers as they are (orig is v boxed already) and
// names the others, which JSON cannot carry.
func (w *walker) float(f float64, orig any) any {
	w.add(8)
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	}
	return orig
}

// errorString captures an error as its message. Error is application code:
// it runs under recover, and a nil pointer whose Error dereferences it is
// common enough.
func (w *walker) errorString(e error) (out any) {
	defer func() {
		if r := recover(); r != nil {
			w.stats.Errors++
			out = "[error: Error() panicked: " + describePanic(r) + "]"
		}
	}()
	msg := e.Error()
	return w.str(msg, len(msg))
}

// byteSlice captures text as a (scrubbed, truncated) string and binary data
// as a hex preview of its first bytes and its length.
func (w *walker) byteSlice(b []byte) any {
	window := b
	if w.lim.MaxString >= 0 {
		if limit := w.lim.MaxString*utf8.UTFMax + scrubMargin; len(window) > limit {
			window = window[:limit]
		}
	}
	if isText(window) {
		return w.str(string(window), len(b))
	}
	const preview = 32
	n := min(len(b), preview)
	out := make([]byte, 0, 4+2*n+32)
	out = append(out, "hex:"...)
	for _, c := range b[:n] {
		out = append(out, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
	}
	if len(b) > n {
		w.stats.Truncated++
		out = append(out, "…"...)
	}
	out = append(out, " ("...)
	out = strconv.AppendInt(out, int64(len(b)), 10)
	out = append(out, " bytes)"...)
	w.add(len(out) + 2)
	return string(out)
}

// isText reports whether b is UTF-8 without control characters other than
// whitespace (a rune cut at the end of a window is allowed).
func isText(b []byte) bool {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return len(b)-i < utf8.UTFMax && !utf8.FullRune(b[i:])
		}
		i += size
	}
	return true
}

// mapStringAny captures the most common map without reflect.
func (w *walker) mapStringAny(m map[string]any, depth int) any {
	if m == nil {
		w.add(4)
		return nil
	}
	if depth > w.lim.MaxDepth {
		return w.tooDeep()
	}
	if w.onPath(mapPointer(m)) {
		return w.cycle()
	}
	w.push(mapPointer(m))
	keep := len(m)
	if w.lim.MaxCollection >= 0 {
		keep = min(keep, w.lim.MaxCollection)
	}
	out := make(map[string]any, keep+1)
	done := 0
	for k, v := range m {
		if done == keep || w.stopped {
			break
		}
		key := w.key(out, k)
		w.add(len(key) + 4)
		out[key] = w.field(k, v, depth+1)
		done++
	}
	w.pop()
	if omitted := len(m) - done; omitted > 0 {
		w.stats.Truncated++
		out[TruncatedKey] = omitted
	}
	return out
}

// sliceAny captures the most common slice without reflect.
func (w *walker) sliceAny(s []any, depth int) any {
	if s == nil {
		w.add(4)
		return nil
	}
	if depth > w.lim.MaxDepth {
		return w.tooDeep()
	}
	keep := len(s)
	if w.lim.MaxCollection >= 0 {
		keep = min(keep, w.lim.MaxCollection)
	}
	out := make([]any, 0, keep+1)
	for _, v := range s[:keep] {
		if w.stopped {
			break
		}
		w.add(1)
		out = append(out, w.value(v, depth+1))
	}
	return w.endSlice(out, len(s))
}

// endSlice appends the truncation entry when elements were left out.
func (w *walker) endSlice(out []any, total int) []any {
	if omitted := total - len(out); omitted > 0 {
		w.stats.Truncated++
		out = append(out, map[string]any{TruncatedKey: omitted})
	}
	return out
}

func (w *walker) tooDeep() string {
	w.stats.Truncated++
	w.add(len(TruncatedMarker) + 2)
	return TruncatedMarker
}

func (w *walker) cycle() string {
	w.add(len(CycleMarker) + 2)
	return CycleMarker
}

func (w *walker) onPath(p uintptr) bool {
	return slices.Contains(w.path, p)
}

func (w *walker) push(p uintptr) { w.path = append(w.path, p) }

func (w *walker) pop() { w.path = w.path[:len(w.path)-1] }
