package condition

import (
	"math"
	"reflect"
	"slices"
	"strconv"
	"unicode/utf8"
)

// maxFormatDepth bounds how deep a rendered value is written; deeper values,
// and cycles, render as "…".
const maxFormatDepth = 10

// formatter writes a placeholder's value: compact JSON for maps and slices,
// plain text at the top for scalars. It reads values through reflect only and
// never calls a method (no String, Error or MarshalJSON): logpoints must not
// run application code. It stops writing once buf passes limit.
type formatter struct {
	buf   []byte
	limit int
}

func (f *formatter) full() bool { return len(f.buf) > f.limit }

func (f *formatter) value(v any, depth int, top bool) {
	switch x := v.(type) {
	case nil:
		f.buf = append(f.buf, "null"...)
	case string:
		if top {
			f.buf = append(f.buf, x...)
		} else {
			f.quote(x)
		}
	case bool:
		f.buf = strconv.AppendBool(f.buf, x)
	case int:
		f.buf = strconv.AppendInt(f.buf, int64(x), 10)
	case int64:
		f.buf = strconv.AppendInt(f.buf, x, 10)
	case float64:
		f.float(x, 64, top)
	case map[string]any:
		if depth >= maxFormatDepth {
			f.buf = append(f.buf, `"…"`...)
			return
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		f.buf = append(f.buf, '{')
		for i, k := range keys {
			if f.full() {
				break
			}
			if i > 0 {
				f.buf = append(f.buf, ',')
			}
			f.quote(k)
			f.buf = append(f.buf, ':')
			f.value(x[k], depth+1, false)
		}
		f.buf = append(f.buf, '}')
	case []any:
		if depth >= maxFormatDepth {
			f.buf = append(f.buf, `"…"`...)
			return
		}
		f.buf = append(f.buf, '[')
		for i, e := range x {
			if f.full() {
				break
			}
			if i > 0 {
				f.buf = append(f.buf, ',')
			}
			f.value(e, depth+1, false)
		}
		f.buf = append(f.buf, ']')
	default:
		f.reflect(reflect.ValueOf(v), depth, top)
	}
}

// reflect writes values of other types by kind, without calling methods.
func (f *formatter) reflect(v reflect.Value, depth int, top bool) {
	if depth >= maxFormatDepth {
		f.buf = append(f.buf, `"…"`...)
		return
	}
	switch v.Kind() {
	case reflect.Invalid:
		f.buf = append(f.buf, "null"...)
	case reflect.Bool:
		f.buf = strconv.AppendBool(f.buf, v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		f.buf = strconv.AppendInt(f.buf, v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		f.buf = strconv.AppendUint(f.buf, v.Uint(), 10)
	case reflect.Float32:
		f.float(v.Float(), 32, top)
	case reflect.Float64:
		f.float(v.Float(), 64, top)
	case reflect.String:
		if top {
			f.buf = append(f.buf, v.String()...)
		} else {
			f.quote(v.String())
		}
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			f.buf = append(f.buf, "null"...)
			return
		}
		f.reflect(v.Elem(), depth+1, top)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			f.buf = append(f.buf, "null"...)
			return
		}
		f.buf = append(f.buf, '[')
		for i := 0; i < v.Len() && !f.full(); i++ {
			if i > 0 {
				f.buf = append(f.buf, ',')
			}
			f.reflect(v.Index(i), depth+1, false)
		}
		f.buf = append(f.buf, ']')
	case reflect.Map:
		if v.IsNil() {
			f.buf = append(f.buf, "null"...)
			return
		}
		type entry struct {
			key string
			val reflect.Value
		}
		entries := make([]entry, 0, v.Len())
		for it := v.MapRange(); it.Next(); {
			k := formatter{}
			k.reflect(it.Key(), maxFormatDepth-1, true)
			entries = append(entries, entry{string(k.buf), it.Value()})
		}
		slices.SortFunc(entries, func(a, b entry) int {
			switch {
			case a.key < b.key:
				return -1
			case a.key > b.key:
				return 1
			}
			return 0
		})
		f.buf = append(f.buf, '{')
		for i, e := range entries {
			if f.full() {
				break
			}
			if i > 0 {
				f.buf = append(f.buf, ',')
			}
			f.quote(e.key)
			f.buf = append(f.buf, ':')
			f.reflect(e.val, depth+1, false)
		}
		f.buf = append(f.buf, '}')
	case reflect.Struct:
		f.buf = append(f.buf, '{')
		n := 0
		t := v.Type()
		for i := 0; i < v.NumField() && !f.full(); i++ {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			if n > 0 {
				f.buf = append(f.buf, ',')
			}
			n++
			f.quote(sf.Name)
			f.buf = append(f.buf, ':')
			f.reflect(v.Field(i), depth+1, false)
		}
		f.buf = append(f.buf, '}')
	default: // chan, func, unsafe pointer, complex
		if top {
			f.buf = append(f.buf, v.Type().String()...)
		} else {
			f.quote(v.Type().String())
		}
	}
}

// float writes numbers without an exponent where that stays readable, and
// the non-finite values by name (quoted below the top, as JSON has no names
// for them).
func (f *formatter) float(x float64, bits int, top bool) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		s := "NaN"
		if math.IsInf(x, 1) {
			s = "+Inf"
		} else if math.IsInf(x, -1) {
			s = "-Inf"
		}
		if top {
			f.buf = append(f.buf, s...)
		} else {
			f.quote(s)
		}
		return
	}
	if a := math.Abs(x); a == 0 || (a >= 1e-6 && a < 1e21) {
		f.buf = strconv.AppendFloat(f.buf, x, 'f', -1, bits)
		return
	}
	f.buf = strconv.AppendFloat(f.buf, x, 'g', -1, bits)
}

// quote writes s as a JSON string.
func (f *formatter) quote(s string) {
	const hex = "0123456789abcdef"
	f.buf = append(f.buf, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				f.buf = append(f.buf, '\\', c)
			case c == '\n':
				f.buf = append(f.buf, '\\', 'n')
			case c == '\r':
				f.buf = append(f.buf, '\\', 'r')
			case c == '\t':
				f.buf = append(f.buf, '\\', 't')
			case c < 0x20 || c == 0x7f:
				f.buf = append(f.buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				f.buf = append(f.buf, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			f.buf = append(f.buf, `\ufffd`...)
		} else {
			f.buf = append(f.buf, s[i:i+size]...)
		}
		i += size
	}
	f.buf = append(f.buf, '"')
}
