package telemetry

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"
)

// AsString renders v the way a user types it in a search: strings as is,
// numbers in their shortest form, booleans as true/false, arrays and maps as
// JSON, bytes as base64. Search by key=value compares against this form.
func (v Value) AsString() string {
	switch v.Type {
	case TypeString, TypeArray, TypeMap:
		return v.Str
	case TypeBool:
		return strconv.FormatBool(v.Bool)
	case TypeInt:
		return strconv.FormatInt(v.Int, 10)
	case TypeDouble:
		return strconv.FormatFloat(v.Double, 'g', -1, 64)
	case TypeBytes:
		return base64.StdEncoding.EncodeToString([]byte(v.Str))
	}
	return ""
}

// AsAny returns v as a value for encoding/json: string, bool, int64,
// float64, a decoded array or map, or nil.
func (v Value) AsAny() any {
	switch v.Type {
	case TypeString:
		return v.Str
	case TypeBool:
		return v.Bool
	case TypeInt:
		return v.Int
	case TypeDouble:
		if math.IsNaN(v.Double) || math.IsInf(v.Double, 0) {
			return strconv.FormatFloat(v.Double, 'g', -1, 64)
		}
		return v.Double
	case TypeBytes:
		return base64.StdEncoding.EncodeToString([]byte(v.Str))
	case TypeArray, TypeMap:
		var x any
		if err := json.Unmarshal([]byte(v.Str), &x); err != nil {
			return v.Str
		}
		return x
	}
	return nil
}

// AttributesMap returns attrs as a map for JSON output. A later duplicate key
// wins, as OTel specifies for the last write.
func AttributesMap(attrs []Attribute) map[string]any {
	m := make(map[string]any, len(attrs))
	for _, a := range attrs {
		m[a.Key] = a.Value.AsAny()
	}
	return m
}
