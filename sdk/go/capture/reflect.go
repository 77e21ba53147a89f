package capture

import (
	"reflect"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/tracekit-oss/tracekit/sdk/go/pii"
)

var (
	errorType = reflect.TypeFor[error]()
	timeType  = reflect.TypeFor[time.Time]()
)

// nameRules classifies field names once per struct type. Name rules are
// the same for every enabled Scrubber (custom patterns apply to values), so
// the cache below holds for all of them.
var nameRules = pii.Default()

// typeInfo is what capture needs to know of a type, computed once per type
// (reflect.Type.Field allocates, and Implements is not free).
type typeInfo struct {
	isError bool        // the type implements error
	fields  []fieldInfo // struct fields, in order
	// needsAddr is true for a struct with unexported fields that are only
	// readable as themselves (errors, times, interfaces) once the struct is
	// addressable.
	needsAddr bool
}

type fieldInfo struct {
	name     string
	exported bool
	marker   string // what replaces the field's value when the name is sensitive
}

// types caches typeInfo by reflect.Type, as encoding/json caches its
// encoders: types are few and live as long as the program.
var types sync.Map // reflect.Type -> *typeInfo

func infoOf(t reflect.Type) *typeInfo {
	if ti, ok := types.Load(t); ok {
		return ti.(*typeInfo)
	}
	ti := &typeInfo{isError: t.Implements(errorType)}
	if t.Kind() == reflect.Struct {
		ti.fields = make([]fieldInfo, t.NumField())
		for i := range ti.fields {
			sf := t.Field(i)
			ti.fields[i] = fieldInfo{name: sf.Name, exported: sf.IsExported(), marker: nameRules.NameMarker(sf.Name)}
			if !sf.IsExported() {
				k := sf.Type.Kind()
				if k == reflect.Interface || sf.Type == timeType || sf.Type.Implements(errorType) ||
					k == reflect.Pointer || k == reflect.Struct {
					ti.needsAddr = true
				}
			}
		}
	}
	actual, _ := types.LoadOrStore(t, ti)
	return actual.(*typeInfo)
}

// reflect captures v through reflect.
func (w *walker) reflect(v any, depth int) any {
	return w.reflectValue(reflect.ValueOf(v), depth)
}

func (w *walker) reflectValue(v reflect.Value, depth int) any {
	switch v.Kind() {
	case reflect.Invalid:
		w.add(4)
		return nil
	case reflect.Bool:
		w.add(5)
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		w.add(8)
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		w.add(8)
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		return w.float(f, f)
	case reflect.Complex64, reflect.Complex128:
		w.add(16)
		return strconv.FormatComplex(v.Complex(), 'g', -1, 128)
	case reflect.String:
		s := v.String()
		return w.str(s, len(s))
	case reflect.Interface:
		if v.IsNil() {
			w.add(4)
			return nil
		}
		return w.dynamic(v.Elem(), depth)
	case reflect.Pointer:
		if v.IsNil() {
			w.add(4)
			return nil
		}
		if s, ok := w.asError(v); ok {
			return s
		}
		p := uintptr(v.UnsafePointer())
		if w.onPath(p) {
			return w.cycle()
		}
		w.push(p)
		out := w.dynamic(v.Elem(), depth)
		w.pop()
		return out
	case reflect.Map:
		return w.reflectMap(v, depth)
	case reflect.Slice:
		if v.IsNil() {
			w.add(4)
			return nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return w.byteSlice(v.Bytes())
		}
		return w.reflectList(v, depth)
	case reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 && v.Len() <= 64 {
			b := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(b), v)
			return w.byteSlice(b)
		}
		return w.reflectList(v, depth)
	case reflect.Struct:
		return w.reflectStruct(v, depth)
	default: // chan, func, unsafe.Pointer: their type says all that is safe to say
		s := v.Type().String()
		w.add(len(s) + 2)
		return s
	}
}

// dynamic captures a value reached through an interface or a pointer: if it
// is an error or a time, as such; otherwise by kind.
func (w *walker) dynamic(v reflect.Value, depth int) any {
	w.tick()
	if s, ok := w.asError(v); ok {
		return s
	}
	return w.reflectValue(v, depth)
}

// asError captures v as its Error() string when its type implements error
// and v may be turned back into an interface.
func (w *walker) asError(v reflect.Value) (any, bool) {
	if v.Kind() == reflect.Interface || v.Type().NumMethod() == 0 || !v.CanInterface() {
		return nil, false
	}
	if !infoOf(v.Type()).isError {
		return nil, false
	}
	e, ok := v.Interface().(error)
	if !ok {
		return nil, false
	}
	return w.errorString(e), true
}

// reflectMap captures any map; keys are written as strings.
func (w *walker) reflectMap(v reflect.Value, depth int) any {
	if v.IsNil() {
		w.add(4)
		return nil
	}
	if depth > w.lim.MaxDepth {
		return w.tooDeep()
	}
	p := uintptr(v.UnsafePointer())
	if w.onPath(p) {
		return w.cycle()
	}
	w.push(p)
	total := v.Len()
	keep := total
	if w.lim.MaxCollection >= 0 {
		keep = min(keep, w.lim.MaxCollection)
	}
	out := make(map[string]any, keep+1)
	done := 0
	for it := v.MapRange(); done < keep && !w.stopped && it.Next(); done++ {
		name := keyString(it.Key(), done)
		key := w.key(out, name)
		w.add(len(key) + 4)
		val := it.Value()
		if w.scrub.Enabled() {
			if m := w.scrub.NameMarker(name); m != "" && !val.IsZero() {
				out[key] = w.redacted(m)
				continue
			}
		}
		out[key] = w.dynamic(val, depth+1)
	}
	w.pop()
	if omitted := total - done; omitted > 0 {
		w.stats.Truncated++
		out[TruncatedKey] = omitted
	}
	return out
}

// keyString writes a map key: strings and numbers as text, anything else
// as its type and position (formatting it could call its methods).
func keyString(k reflect.Value, i int) string {
	switch k.Kind() {
	case reflect.String:
		return k.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(k.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(k.Uint(), 10)
	case reflect.Bool:
		return strconv.FormatBool(k.Bool())
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(k.Float(), 'g', -1, 64)
	case reflect.Interface:
		if !k.IsNil() {
			return keyString(k.Elem(), i)
		}
	}
	return "<" + k.Type().String() + "#" + strconv.Itoa(i) + ">"
}

// reflectList captures slices and arrays.
func (w *walker) reflectList(v reflect.Value, depth int) any {
	if depth > w.lim.MaxDepth {
		return w.tooDeep()
	}
	total := v.Len()
	keep := total
	if w.lim.MaxCollection >= 0 {
		keep = min(keep, w.lim.MaxCollection)
	}
	out := make([]any, 0, keep+1)
	for i := 0; i < keep && !w.stopped; i++ {
		w.add(1)
		out = append(out, w.dynamic(v.Index(i), depth+1))
	}
	return w.endSlice(out, total)
}

// reflectStruct captures every field, exported or not, by its Go name.
// Unexported fields are read through an exported view of their memory when
// the struct is addressable; nothing is ever written.
func (w *walker) reflectStruct(v reflect.Value, depth int) any {
	t := v.Type()
	if t == timeType && v.CanInterface() {
		w.add(32)
		return v.Interface().(time.Time).Format(time.RFC3339Nano)
	}
	if depth > w.lim.MaxDepth {
		return w.tooDeep()
	}
	ti := infoOf(t)
	if !v.CanAddr() && ti.needsAddr && v.CanInterface() {
		c := reflect.New(t).Elem()
		c.Set(v)
		v = c
	}
	total := len(ti.fields)
	keep := total
	if w.lim.MaxCollection >= 0 {
		keep = min(keep, w.lim.MaxCollection)
	}
	out := make(map[string]any, keep+1)
	done := 0
	for ; done < keep && !w.stopped; done++ {
		fi := &ti.fields[done]
		f := v.Field(done)
		if !fi.exported && f.CanAddr() {
			f = reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem()
		}
		w.add(len(fi.name) + 4)
		if fi.marker != "" && w.scrub.Enabled() && !f.IsZero() {
			out[fi.name] = w.redacted(fi.marker)
			continue
		}
		out[fi.name] = w.dynamic(f, depth+1)
	}
	if omitted := total - done; omitted > 0 {
		w.stats.Truncated++
		out[TruncatedKey] = omitted
	}
	return out
}

// mapPointer identifies a map for cycle detection.
func mapPointer(m map[string]any) uintptr {
	return uintptr(reflect.ValueOf(m).UnsafePointer())
}
