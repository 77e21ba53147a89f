package chart

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Tick is a labelled position on an axis: a time on a time axis, a value
// on a value axis.
type Tick struct {
	T     time.Time
	V     float64
	Label string
}

// timeTickSteps are the spacings time ticks may have.
var timeTickSteps = []time.Duration{
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 28 * 24 * time.Hour,
}

// TimeTicks returns at most maxTicks ticks in [from, to] at round UTC
// times, labelled in UTC whatever the server's or the browser's zone:
// 15:04:05 under a minute apart, 15:04 under a day (with the date, 01-02
// 15:04, where the day changes), 2006-01-02 beyond.
func TimeTicks(from, to time.Time, maxTicks int) []Tick {
	span := to.Sub(from)
	if span <= 0 || maxTicks < 1 {
		return nil
	}
	step := timeTickSteps[len(timeTickSteps)-1]
	for _, s := range timeTickSteps {
		if int64(span/s)+1 <= int64(maxTicks) {
			step = s
			break
		}
	}
	var out []Tick
	t := from.UTC().Truncate(step)
	if t.Before(from) {
		t = t.Add(step)
	}
	prevDay := -1
	for ; !t.After(to); t = t.Add(step) {
		var label string
		switch {
		case step >= 24*time.Hour:
			label = t.Format("2006-01-02")
		case step < time.Minute:
			label = t.Format("15:04:05")
		case prevDay >= 0 && t.YearDay() != prevDay || prevDay < 0 && span > 24*time.Hour:
			label = t.Format("01-02 15:04")
		default:
			label = t.Format("15:04")
		}
		prevDay = t.YearDay()
		out = append(out, Tick{T: t, Label: label})
	}
	return out
}

// LinearTicks returns a domain [lo', hi'] covering [lo, hi] with round
// ends and about n ticks at steps of 1, 2 or 5 times a power of ten. An
// empty range (no data, or all zero) becomes [0, 1].
func LinearTicks(lo, hi float64, n int, u Unit) (float64, float64, []Tick) {
	if math.IsInf(hi, 0) || math.IsNaN(hi) || hi <= lo {
		hi = lo + 1
	}
	if u == Duration {
		hi = max(hi, 1000) // a microsecond at least: durations have no finer labels
	}
	step := niceStep((hi - lo) / float64(max(n, 1)))
	lo = math.Floor(lo/step) * step
	hi = math.Ceil(hi/step) * step
	var out []Tick
	for i := 0; ; i++ {
		v := lo + float64(i)*step
		if v > hi+step/2 {
			break
		}
		out = append(out, Tick{V: v, Label: FormatValue(v, u)})
	}
	return lo, hi, out
}

// niceStep rounds a step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p*(1+1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// LogTicks returns a domain of whole powers of ten covering [lo, hi] (lo
// the smallest positive value) and a tick at each power, with 2 and 5 times
// each when the domain spans fewer than three decades.
func LogTicks(lo, hi float64, u Unit) (float64, float64, []Tick) {
	if math.IsInf(lo, 0) || math.IsNaN(lo) || lo <= 0 {
		lo = 1
	}
	if math.IsInf(hi, 0) || math.IsNaN(hi) || hi < lo {
		hi = lo
	}
	dmin := math.Pow(10, math.Floor(math.Log10(lo)))
	dmax := math.Pow(10, math.Ceil(math.Log10(hi)))
	if dmax <= dmin {
		dmax = dmin * 10
	}
	decades := int(math.Round(math.Log10(dmax / dmin)))
	var out []Tick
	for p := dmin; p <= dmax*(1+1e-9); p *= 10 {
		p = roundSig(p)
		out = append(out, Tick{V: p, Label: FormatValue(p, u)})
		if decades < 3 && p < dmax/2 {
			for _, m := range []float64{2, 5} {
				out = append(out, Tick{V: roundSig(m * p), Label: FormatValue(roundSig(m*p), u)})
			}
		}
	}
	return dmin, dmax, out
}

// roundSig drops the float noise of repeated multiplication.
func roundSig(v float64) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
	return f
}

// FormatValue formats a value of a unit for labels and tooltips: durations
// in ns, µs, ms or s with three significant digits at most, percentages
// with a % sign, other numbers with k and M for thousands and millions.
func FormatValue(v float64, u Unit) string {
	switch u {
	case Duration:
		return FormatDuration(time.Duration(v))
	case Percent:
		return trim(v, decimals(v)) + "%"
	}
	a := math.Abs(v)
	switch {
	case a >= 1e6:
		return trim(v/1e6, decimals(v/1e6)) + "M"
	case a >= 1e4:
		return trim(v/1e3, decimals(v/1e3)) + "k"
	}
	return trim(v, decimals(v))
}

// FormatDuration formats a duration for an axis or a tooltip: "250µs",
// "12.5ms", "1.5s", "90s", and whole minutes or hours as "5m", "1h";
// three significant digits at most.
func FormatDuration(d time.Duration) string {
	v := float64(d)
	switch a := math.Abs(v); {
	case a == 0:
		return "0"
	case a < 1e3:
		return trim(v, 0) + "ns"
	case a < 1e6:
		return trim(v/1e3, decimals(v/1e3)) + "µs"
	case a < 1e9:
		return trim(v/1e6, decimals(v/1e6)) + "ms"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return trim(v/1e9, decimals(v/1e9)) + "s"
}

// decimals keeps three significant digits, at most two decimals.
func decimals(v float64) int {
	switch a := math.Abs(v); {
	case a >= 100:
		return 0
	case a >= 10:
		return 1
	}
	return 2
}

func trim(v float64, prec int) string {
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}
