package codemon

import (
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Change is one difference between two snapshots' variables.
type Change struct {
	Path string `json:"path"`
	A    any    `json:"a,omitempty"`
	B    any    `json:"b,omitempty"`
}

// Diff is the structural difference between two variable trees: paths only
// in B (added), only in A (removed), and in both with different values.
type Diff struct {
	Added   []Change `json:"added"`
	Removed []Change `json:"removed"`
	Changed []Change `json:"changed"`
}

// Compare diffs two JSON documents of captured variables. Objects are
// compared key by key and arrays index by index, so a path names exactly the
// value that differs: order.items[2].price.
func Compare(a, b json.RawMessage) (Diff, error) {
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		return Diff{}, err
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		return Diff{}, err
	}
	d := Diff{Added: []Change{}, Removed: []Change{}, Changed: []Change{}}
	d.walk("", va, vb)
	return d, nil
}

// ChildPath spells the path of key inside parent as the diff names it:
// order.id, or items["x-y"] for keys that are not identifiers.
func ChildPath(parent, key string) string {
	if isIdent(key) {
		if parent == "" {
			return key
		}
		return parent + "." + key
	}
	return parent + "[" + strconv.Quote(key) + "]"
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || r == '$' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9' {
			continue
		}
		return false
	}
	return true
}

func (d *Diff) walk(path string, a, b any) {
	ma, aIsMap := a.(map[string]any)
	mb, bIsMap := b.(map[string]any)
	if aIsMap && bIsMap {
		keys := make([]string, 0, len(ma)+len(mb))
		for k := range ma {
			keys = append(keys, k)
		}
		for k := range mb {
			if _, ok := ma[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			va, inA := ma[k]
			vb, inB := mb[k]
			p := ChildPath(path, k)
			switch {
			case !inA:
				d.Added = append(d.Added, Change{Path: p, B: vb})
			case !inB:
				d.Removed = append(d.Removed, Change{Path: p, A: va})
			default:
				d.walk(p, va, vb)
			}
		}
		return
	}
	sa, aIsSlice := a.([]any)
	sb, bIsSlice := b.([]any)
	if aIsSlice && bIsSlice {
		for i := 0; i < max(len(sa), len(sb)); i++ {
			p := path + "[" + strconv.Itoa(i) + "]"
			switch {
			case i >= len(sa):
				d.Added = append(d.Added, Change{Path: p, B: sb[i]})
			case i >= len(sb):
				d.Removed = append(d.Removed, Change{Path: p, A: sa[i]})
			default:
				d.walk(p, sa[i], sb[i])
			}
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		if path == "" {
			path = "$"
		}
		d.Changed = append(d.Changed, Change{Path: strings.TrimPrefix(path, "."), A: a, B: b})
	}
}
