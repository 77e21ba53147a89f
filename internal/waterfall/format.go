package waterfall

import (
	"math/bits"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// formatDuration writes d (nanoseconds) with three significant digits in the
// largest unit that keeps the number below 1000: "850ns", "1.23µs", "40.0ms",
// "420ms", "2.50s". Durations of 1000s and more are whole seconds.
func formatDuration(d int64) string {
	if d <= 0 {
		return "0s"
	}
	if d < 1000 {
		return strconv.FormatInt(d, 10) + "ns"
	}
	units := [...]struct {
		ns   int64
		name string
	}{{1e3, "µs"}, {1e6, "ms"}, {1e9, "s"}}
	for _, u := range units {
		// Round to 3 significant digits; a value that rounds up to the next
		// power of ten takes one decimal less, or the next unit.
		if d < 10*u.ns {
			if n := roundDiv(d, u.ns/100); n < 1000 {
				return strconv.FormatInt(n/100, 10) + "." + twoDigits(n%100) + u.name
			}
		}
		if d < 100*u.ns {
			if n := roundDiv(d, u.ns/10); n < 1000 {
				return strconv.FormatInt(n/10, 10) + "." + strconv.FormatInt(n%10, 10) + u.name
			}
		}
		if n := roundDiv(d, u.ns); n < 1000 {
			return strconv.FormatInt(n, 10) + u.name
		}
	}
	return strconv.FormatInt(roundDiv(d, 1e9), 10) + "s"
}

// roundDiv is a/b rounded half up, for a >= 0 and b > 0.
func roundDiv(a, b int64) int64 { return a/b + (a%b*2)/b }

func twoDigits(n int64) string {
	if n < 10 {
		return "0" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

// barCells returns the cells [from, to) of a timeline width cells wide that
// a span from start to end (nanoseconds since the trace start) covers in a
// trace total nanoseconds long. A cell is covered when the span overlaps it,
// so a span shorter than a cell still shows one; times outside the trace are
// clamped into it.
func barCells(start, end, total int64, width int) (from, to int) {
	if width <= 0 {
		return 0, 0
	}
	if total <= 0 {
		return 0, 1
	}
	start = min(max(start, 0), total)
	end = min(max(end, start), total)
	from = int(mulDiv(start, int64(width), total, false))
	to = int(mulDiv(end, int64(width), total, true))
	from = min(from, width-1)
	to = min(max(to, from+1), width)
	return from, to
}

// mulDiv returns a*b/c, rounded up when ceil, without overflow, for
// 0 <= a <= c and b > 0 (so the result is at most b).
func mulDiv(a, b, c int64, ceil bool) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, rem := bits.Div64(hi, lo, uint64(c))
	if ceil && rem != 0 {
		q++
	}
	return int64(q)
}

// sanitize replaces every rune that could move the cursor, change colours or
// hide text (control and format characters, line separators, invalid UTF-8)
// with U+FFFD, so names from the network cannot rewrite the terminal.
func sanitize(s string) string {
	for _, c := range s {
		if !safeRune(c) {
			return sanitizeSlow(s)
		}
	}
	return s
}

func sanitizeSlow(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, c := range s {
		if !safeRune(c) {
			c = utf8.RuneError
		}
		b.WriteRune(c)
	}
	return b.String()
}

// safeRune reports whether c prints as itself. utf8.RuneError also stands
// for an invalid byte, so it takes the slow path, which writes it anyway.
func safeRune(c rune) bool {
	if c < 0x7f {
		return c >= 0x20
	}
	if c == utf8.RuneError {
		return false
	}
	return !unicode.In(c, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

// truncate cuts s to at most n columns, ending with "…" when it cut.
func truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if columns(s) <= n {
		return s
	}
	used := 0
	for i, c := range s {
		w := runeColumns(c)
		if used+w > n-1 {
			return s[:i] + "…"
		}
		used += w
	}
	return s
}

// columns is the number of terminal columns s takes, counting wide (East
// Asian, emoji) runes as two and every other rune as one. Combining marks
// take none on screen, so counting them as one can only leave a line
// shorter: a line never exceeds its width, in columns or in runes.
func columns(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return n + columnsSlow(s[i:])
		}
		n++
	}
	return n
}

func columnsSlow(s string) int {
	n := 0
	for _, c := range s {
		n += runeColumns(c)
	}
	return n
}

// runeColumns is 2 for the wide and fullwidth ranges of Unicode's East Asian
// Width property and the emoji blocks, 1 otherwise.
func runeColumns(c rune) int {
	switch {
	case c < 0x1100:
		return 1
	case c <= 0x115f, // Hangul Jamo
		c >= 0x2e80 && c <= 0xa4cf && c != 0x303f, // CJK, Kana, Yi
		c >= 0xac00 && c <= 0xd7a3,                // Hangul syllables
		c >= 0xf900 && c <= 0xfaff,                // CJK compatibility ideographs
		c >= 0xfe30 && c <= 0xfe4f,                // CJK compatibility forms
		c >= 0xff00 && c <= 0xff60,                // fullwidth forms
		c >= 0xffe0 && c <= 0xffe6,
		c >= 0x1f300 && c <= 0x1f64f, // pictographs, emoticons
		c >= 0x1f680 && c <= 0x1f6ff, // transport and map symbols
		c >= 0x1f900 && c <= 0x1f9ff,
		c >= 0x20000 && c <= 0x3fffd: // CJK extensions
		return 2
	}
	return 1
}
