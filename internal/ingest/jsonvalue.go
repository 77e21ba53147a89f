package ingest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

var errNotUTF8 = errors.New("value is not valid UTF-8")

// jsonValue encodes an array or key-value list attribute as the JSON text
// stored for it. Its depth is checked (the pre-scan bounds it already; this
// is the exact check, also for JSON bodies) so recursion stays shallow, and
// its length is bounded: elements that would take the text past maxLen are
// left out, and the text stays valid JSON.
type jsonValue struct {
	maxDepth, maxLen int
	buf              []byte
	full             bool // an element was left out: add no more
}

// append writes v, which depth arrays and key-value lists enclose.
func (j *jsonValue) append(v pcommon.Value, depth int) error {
	if t := v.Type(); (t == pcommon.ValueTypeSlice || t == pcommon.ValueTypeMap) && depth >= j.maxDepth {
		return j.tooDeep()
	}
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return j.str(v.Str())
	case pcommon.ValueTypeBool:
		j.buf = strconv.AppendBool(j.buf, v.Bool())
	case pcommon.ValueTypeInt:
		j.buf = strconv.AppendInt(j.buf, v.Int(), 10)
	case pcommon.ValueTypeDouble:
		j.double(v.Double())
	case pcommon.ValueTypeBytes:
		j.bytes(v.Bytes().AsRaw())
	case pcommon.ValueTypeSlice:
		s := v.Slice()
		j.buf = append(j.buf, '[')
		for i := 0; i < s.Len() && !j.full; i++ {
			mark := j.element(i)
			if err := j.append(s.At(i), depth+1); err != nil {
				return err
			}
			j.cut(mark)
		}
		j.buf = append(j.buf, ']')
	case pcommon.ValueTypeMap:
		var err error
		first := true
		j.buf = append(j.buf, '{')
		v.Map().Range(func(k string, e pcommon.Value) bool {
			if j.full {
				return false
			}
			var mark int
			if mark, err = j.entry(k, first); err != nil {
				return false
			}
			first = false
			if err = j.append(e, depth+1); err != nil {
				return false
			}
			j.cut(mark)
			return true
		})
		if err != nil {
			return err
		}
		j.buf = append(j.buf, '}')
	default:
		j.buf = append(j.buf, "null"...)
	}
	return nil
}

func (j *jsonValue) tooDeep() error {
	return fmt.Errorf("%w: more than %d levels of arrays and key-value lists", errTooDeep, j.maxDepth)
}

func (j *jsonValue) str(s string) error {
	if !utf8.ValidString(s) {
		return errNotUTF8
	}
	j.buf = appendJSONString(j.buf, s)
	return nil
}

// double writes f as a JSON number, or as a string for NaN and infinities,
// which JSON has no number for.
func (j *jsonValue) double(f float64) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		j.buf = appendJSONString(j.buf, strconv.FormatFloat(f, 'g', -1, 64))
	} else {
		j.buf = strconv.AppendFloat(j.buf, f, 'g', -1, 64)
	}
}

func (j *jsonValue) bytes(b []byte) {
	j.buf = append(j.buf, '"')
	j.buf = base64.StdEncoding.AppendEncode(j.buf, b)
	j.buf = append(j.buf, '"')
}

// element starts element i of an array and returns the mark to cut it at.
func (j *jsonValue) element(i int) int {
	mark := len(j.buf)
	if i > 0 {
		j.buf = append(j.buf, ',')
	}
	return mark
}

// entry starts the entry of key k of a key-value list and returns the mark
// to cut it at.
func (j *jsonValue) entry(k string, first bool) (int, error) {
	if !utf8.ValidString(k) {
		return 0, errNotUTF8
	}
	mark := len(j.buf)
	if !first {
		j.buf = append(j.buf, ',')
	}
	j.buf = appendJSONString(j.buf, k)
	j.buf = append(j.buf, ':')
	return mark, nil
}

// cut drops the element written since mark when it took the text past
// maxLen (keeping room for the closing brackets of every open level).
func (j *jsonValue) cut(mark int) {
	if len(j.buf)+j.maxDepth > j.maxLen {
		j.buf = j.buf[:mark]
		j.full = true
	}
}

// appendJSONString appends s as a JSON string literal; s is valid UTF-8.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
