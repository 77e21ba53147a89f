package web

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/tracekit-oss/tracekit/internal/codemon"
)

// diffRow is one leaf value of two snapshots side by side.
type diffRow struct {
	Path string
	A, B string
	// HasA and HasB tell a missing value from an empty one.
	HasA, HasB bool
	// Mark is "", "added", "removed" or "changed".
	Mark string
}

type leaf struct{ path, text string }

// flatten lists the leaves of a JSON document in document order, with
// paths spelt as codemon.Compare spells them.
func flatten(raw json.RawMessage) []leaf {
	var v any
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return []leaf{{path: "$", text: string(raw)}}
	}
	var out []leaf
	var walk func(path string, v any, depth int)
	walk = func(path string, v any, depth int) {
		switch t := v.(type) {
		case map[string]any:
			if len(t) == 0 || depth > maxVarDepth {
				out = append(out, leaf{path, jsonText(v)})
				return
			}
			for _, k := range sortedKeys(t) {
				walk(codemon.ChildPath(path, k), t[k], depth+1)
			}
		case []any:
			if len(t) == 0 || depth > maxVarDepth {
				out = append(out, leaf{path, jsonText(v)})
				return
			}
			for i, x := range t {
				walk(path+"["+strconv.Itoa(i)+"]", x, depth+1)
			}
		default:
			if path == "" {
				path = "$"
			}
			out = append(out, leaf{path, jsonText(v)})
		}
	}
	walk("", v, 0)
	return out
}

func jsonText(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// under reports whether path is p or lies inside it.
func under(path, p string) bool {
	return path == p || strings.HasPrefix(path, p) && (path[len(p)] == '.' || path[len(p)] == '[')
}

// diffRows lines up the leaves of a and b and marks each with what
// codemon.Compare found.
func diffRows(a, b json.RawMessage, d codemon.Diff) []diffRow {
	la, lb := flatten(a), flatten(b)
	byPath := map[string]int{}
	var rows []diffRow
	for _, l := range la {
		byPath[l.path] = len(rows)
		rows = append(rows, diffRow{Path: l.path, A: l.text, HasA: true})
	}
	for _, l := range lb {
		if i, ok := byPath[l.path]; ok {
			rows[i].B, rows[i].HasB = l.text, true
			continue
		}
		rows = append(rows, diffRow{Path: l.path, B: l.text, HasB: true})
	}
	mark := func(cs []codemon.Change, m string) {
		for _, c := range cs {
			for i := range rows {
				if rows[i].Mark == "" && under(rows[i].Path, c.Path) {
					rows[i].Mark = m
				}
			}
		}
	}
	mark(d.Changed, "changed")
	mark(d.Added, "added")
	mark(d.Removed, "removed")
	for i := range rows {
		// A value whose type changed (object to scalar) shows up as a
		// difference the leaves alone cannot place: mark what differs.
		if rows[i].Mark == "" && (rows[i].HasA != rows[i].HasB || rows[i].A != rows[i].B) {
			rows[i].Mark = "changed"
		}
	}
	return rows
}
