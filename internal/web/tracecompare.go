package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tracekit-oss/tracekit/internal/store"
	"github.com/tracekit-oss/tracekit/internal/telemetry"
	"github.com/tracekit-oss/tracekit/internal/tracecompare"
)

// maxCompareRows is the most rows the trace compare page draws: a table of
// more is slow to load and to read. The API gives them all.
const maxCompareRows = 5000

// maxIndent is the deepest indentation app.css has a class for
// (.tc-d0 ... .tc-d12); deeper rows say their depth in words.
const maxIndent = 12

type traceCompareView struct {
	// A and B are the trace IDs as typed, for the form.
	A, B     string
	DiffOnly bool
	Error    string
	Compared bool
	// SwapURL is this comparison with A and B swapped.
	SwapURL string
	SumA    store.TraceSummary
	SumB    store.TraceSummary
	Delta   string
	Same    int
	Changed int
	Added   int
	Removed int
	Rows    []traceCompareRow
	// Hidden counts the rows not drawn: the same ones when only
	// differences are asked for, and those beyond maxCompareRows.
	Hidden    int
	Truncated bool
}

// traceCompareRow is a tracecompare.Row as the page shows it. Bar widths
// are percentages of the longer trace, drawn as SVG attributes: the CSP
// forbids style attributes.
type traceCompareRow struct {
	Depth, Indent      int
	Service, Operation string
	ASpan, BSpan       string
	ADur, BDur         string
	AWidth, BWidth     string
	Delta              string
	Mark, Symbol       string
}

// markSymbols carry a row's mark in a shape as well as a colour.
var markSymbols = map[tracecompare.Mark]string{
	tracecompare.Same: "=", tracecompare.Changed: "Δ", tracecompare.Added: "+", tracecompare.Removed: "−",
}

// traceComparePage shows trace A (the baseline) and trace B side by side:
// /p/{project}/traces/compare?a=<traceId>&b=<traceId>[&only=diff].
func (d *Dashboard) traceComparePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := traceCompareView{A: strings.TrimSpace(q.Get("a")), B: strings.TrimSpace(q.Get("b")), DiffOnly: q.Get("only") == "diff"}
	if v.A == "" && v.B == "" {
		d.render(w, r, http.StatusOK, "tracecompare", "Compare traces", "traces", v)
		return
	}
	ctx, project := r.Context(), visitOf(r).project
	var spans [2][]telemetry.Span
	for i, side := range []struct{ name, id string }{{"A", v.A}, {"B", v.B}} {
		if side.id == "" {
			v.Error = "Trace " + side.name + ": give the ID of a trace to compare (32 hex digits), or pick two traces in the search results."
			d.render(w, r, http.StatusBadRequest, "tracecompare", "Compare traces", "traces", v)
			return
		}
		id, err := telemetry.ParseTraceID(side.id)
		if err != nil {
			v.Error = "Trace " + side.name + ": " + err.Error() + "."
			d.render(w, r, http.StatusBadRequest, "tracecompare", "Compare traces", "traces", v)
			return
		}
		if spans[i], err = d.st.Trace(ctx, project, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				v.Error = "Trace " + side.name + " " + id.String() + ": not found in this project."
				d.render(w, r, http.StatusNotFound, "tracecompare", "Compare traces", "traces", v)
				return
			}
			d.fail(w, r, "trace "+id.String(), err)
			return
		}
	}
	res := tracecompare.Compare(spans[0], spans[1])
	v.Compared, v.SumA, v.SumB = true, res.A, res.B
	swap := url.Values{"a": {v.B}, "b": {v.A}}
	if v.DiffOnly {
		swap.Set("only", "diff")
	}
	v.SwapURL = projectPath(r, "/traces/compare?"+swap.Encode())
	v.Same, v.Changed, v.Added, v.Removed = res.Same, res.Changed, res.Added, res.Removed
	v.Delta = signedDuration(res.Delta)
	scale := float64(max(res.A.Duration, res.B.Duration, 1))
	width := func(d time.Duration) string { return strconv.FormatFloat(100*float64(d)/scale, 'f', 2, 64) }
	for _, row := range res.Rows {
		if v.DiffOnly && row.Mark == tracecompare.Same || len(v.Rows) == maxCompareRows {
			v.Hidden++
			v.Truncated = v.Truncated || len(v.Rows) == maxCompareRows
			continue
		}
		tr := traceCompareRow{Depth: int(row.Depth), Indent: min(int(row.Depth), maxIndent), Service: row.Service, Operation: row.Operation,
			Delta: signedDuration(row.Delta), Mark: row.Mark.String(), Symbol: markSymbols[row.Mark]}
		if row.A >= 0 {
			tr.ASpan, tr.ADur, tr.AWidth = spans[0][row.A].SpanID.String(), formatDuration(row.ADuration), width(row.ADuration)
		}
		if row.B >= 0 {
			tr.BSpan, tr.BDur, tr.BWidth = spans[1][row.B].SpanID.String(), formatDuration(row.BDuration), width(row.BDuration)
		}
		v.Rows = append(v.Rows, tr)
	}
	d.render(w, r, http.StatusOK, "tracecompare", "Compare traces", "traces", v)
}

// signedDuration is a duration difference with its sign: "+12ms", "−3.4ms"
// or "0".
func signedDuration(d time.Duration) string {
	switch {
	case d > 0:
		return "+" + formatDuration(d)
	case d < 0:
		return "−" + formatDuration(-d)
	}
	return "0"
}
