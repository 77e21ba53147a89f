package jaegerapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreAnyFunction("internal/poll.runtime_pollWait"))
}

func us(t time.Time) string { return strconv.FormatInt(t.UnixMicro(), 10) }

// window is start and end around the fixture's traces.
var window = "start=" + us(t0.Add(-time.Minute)) + "&end=" + us(fixtureNow)

// TestGolden compares each answer, field by field, with its golden file.
func TestGolden(t *testing.T) {
	f := newFixture(t, true)
	for _, c := range []struct{ name, path string }{
		{"services", "/services"},
		{"operations_legacy", "/services/frontend/operations"},
		{"operations", "/operations?service=payments"},
		{"operations_server", "/operations?service=frontend&spanKind=server"},
		{"operations_unknown_service", "/operations?service=nope"},
		{"search_service", "/traces?service=frontend&limit=20&lookback=custom&" + window},
		{"search_operation", "/traces?service=frontend&operation=GET+%2Fhealth&" + window},
		{"search_tags_json", "/traces?service=payments&tags=" + url.QueryEscape(`{"error":"true"}`) + "&" + window},
		{"search_tags_logfmt", "/traces?service=payments&tags=" + url.QueryEscape(`db.system=postgresql cache.hit="false"`) + "&" + window},
		{"search_tag", "/traces?service=worker&tag=messaging.system:kafka&" + window},
		{"search_duration", "/traces?service=frontend&minDuration=100ms&maxDuration=1s&" + window},
		{"search_none", "/traces?service=frontend&minDuration=1h&" + window},
		{"search_reversed_range", "/traces?service=frontend&start=" + us(fixtureNow) + "&end=" + us(t0)},
		{"search_trace_ids", "/traces?traceID=" + checkoutID.String() + "&traceID=ffffffffffffffff"},
		{"trace", "/traces/" + checkoutID.String()},
		{"trace_64bit", "/traces/123456789abcdef"},
		{"dependencies", "/dependencies?endTs=" + strconv.FormatInt(fixtureNow.UnixMilli(), 10) + "&lookback=7200000"},
		{"dependencies_service", "/dependencies?service=worker&endTs=" + strconv.FormatInt(fixtureNow.UnixMilli(), 10) + "&lookback=7200000"},
		{"dependencies_default_range", "/dependencies"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := f.get(t, c.path, adminKey)
			if status != http.StatusOK {
				t.Fatalf("GET %s: %d %s", c.path, status, body)
			}
			checkEnvelope(t, body)
			compareGolden(t, filepath.Join("testdata", c.name+".json"), body)
		})
	}
}

// TestDependenciesWithoutServiceMap: a store without the service map
// answers an empty list, not an error, as Grafana's graph expects.
func TestDependenciesWithoutServiceMap(t *testing.T) {
	f := newFixture(t, false)
	status, body := f.get(t, "/dependencies?endTs=1&lookback=1", adminKey)
	if want := `{"data":[],"total":0,"limit":0,"offset":0,"errors":null}` + "\n"; status != 200 || string(body) != want {
		t.Errorf("got %d %s, want 200 %s", status, body, want)
	}
}

// TestBadParameters: Jaeger's status and wording for what it refuses.
func TestBadParameters(t *testing.T) {
	f := newFixture(t, false)
	check := func(path string, status int, msg string) {
		t.Helper()
		got, body := f.get(t, path, adminKey)
		want, _ := json.Marshal(envelope{Errors: []apiError{{Code: status, Msg: msg}}})
		if got != status || strings.TrimSpace(string(body)) != string(want) {
			t.Errorf("GET %s:\n got %d %s\nwant %d %s", path, got, body, status, want)
		}
	}
	check("/traces?"+window, 400, "parameter 'service' is required")
	check("/traces?service=a&limit=ten", 400, `unable to parse param 'limit': strconv.ParseInt: parsing "ten": invalid syntax`)
	check("/traces?service=a&limit=99999999999", 400, `unable to parse param 'limit': strconv.ParseInt: parsing "99999999999": value out of range`)
	check("/traces?service=a&start=yesterday", 400, `unable to parse param 'start': strconv.ParseInt: parsing "yesterday": invalid syntax`)
	check("/traces?service=a&end=1.5", 400, `unable to parse param 'end': strconv.ParseInt: parsing "1.5": invalid syntax`)
	check("/traces?service=a&minDuration=10", 400, `unable to parse param 'minDuration': time: missing unit in duration "10"`)
	check("/traces?service=a&maxDuration=fast", 400, `unable to parse param 'maxDuration': time: invalid duration "fast"`)
	check("/traces?service=a&minDuration=2s&maxDuration=1s", 400, "'maxDuration' should be greater than 'minDuration'")
	check("/traces?service=a&tags="+url.QueryEscape(`{"a":1}`), 400, "malformed 'tags' parameter, cannot unmarshal JSON: json: cannot unmarshal number into Go value of type string")
	check("/traces?service=a&tags="+url.QueryEscape(`{"a"`), 400, "malformed 'tags' parameter, cannot unmarshal JSON: unexpected end of JSON input")
	check("/traces?service=a&tags="+url.QueryEscape(`a="open`), 400, `malformed 'tags' parameter, expecting a JSON object or logfmt key=value pairs: unterminated quoted value of "a"`)
	check("/traces?service=a&tag=nocolon", 400, "malformed 'tag' parameter, expecting key:value, received: nocolon")
	check("/traces?traceID=xyz", 400, `cannot parse traceID param: strconv.ParseUint: parsing "xyz": invalid syntax`)
	check("/traces/xyz", 400, `strconv.ParseUint: parsing "xyz": invalid syntax`)
	check("/traces/"+strings.Repeat("a", 33), 400, "TraceID cannot be longer than 32 hex characters: "+strings.Repeat("a", 33))
	check("/traces/"+checkoutID.String()+"?start=soon", 400, `unable to parse param 'start': strconv.ParseInt: parsing "soon": invalid syntax`)
	check("/traces/ffffffffffffffffffffffffffffffff", 404, "trace not found")
	check("/traces/0", 404, "trace not found")
	check("/operations", 400, "parameter 'service' is required")
	check("/dependencies?endTs=now", 400, `unable to parse param 'endTs': strconv.ParseInt: parsing "now": invalid syntax`)
	check("/dependencies?lookback=1h", 400, `unable to parse param 'lookback': strconv.ParseInt: parsing "1h": invalid syntax`)
	check("/archive/"+checkoutID.String(), 404, "no such Jaeger API route: GET /jaeger/api/archive/"+checkoutID.String())
}

// TestAuthentication: the keys of the native API, sent as Grafana and the
// Jaeger UI's proxies send them.
func TestAuthentication(t *testing.T) {
	f := newFixture(t, false)
	check := func(name string, set func(*http.Request), status int, msg string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, f.base+"/services", nil)
		set(req)
		got, body := do(t, req)
		if got != status || (msg != "" && !strings.Contains(string(body), msg)) {
			t.Errorf("%s: got %d %s, want %d and %q", name, got, body, status, msg)
		}
		if status != 200 {
			checkErrorEnvelope(t, body, status)
		}
	}
	check("basic auth, any user", func(r *http.Request) { r.SetBasicAuth("grafana", adminKey) }, 200, `"frontend"`)
	check("basic auth, no user", func(r *http.Request) { r.SetBasicAuth("", adminKey) }, 200, `"frontend"`)
	check("bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+adminKey) }, 200, `"frontend"`)
	check("X-API-Key", func(r *http.Request) { r.Header.Set("X-API-Key", adminKey) }, 200, `"frontend"`)
	check("no key", func(*http.Request) {}, 401, "missing API key")
	check("key as the basic-auth user", func(r *http.Request) { r.SetBasicAuth(adminKey, "") }, 401, "missing API key")
	check("wrong password", func(r *http.Request) { r.SetBasicAuth("grafana", "tk_not_a_key_0000000000") }, 401, "unknown API key")
	check("ingest key", func(r *http.Request) { r.SetBasicAuth("grafana", ingestKey) }, 403, "an admin key is required")
}

// TestOtherProjectSeesNothing: a key reads its own project only.
func TestOtherProjectSeesNothing(t *testing.T) {
	f := newFixture(t, true)
	check := func(path, key string, status int, want string) {
		t.Helper()
		got, body := f.get(t, path, key)
		if got != status || strings.TrimSpace(string(body)) != want {
			t.Errorf("GET %s as %s:\n got %d %s\nwant %d %s", path, key[:16], got, body, status, want)
		}
	}
	empty := `{"data":[],"total":0,"limit":0,"offset":0,"errors":null}`
	check("/services", otherKey, 200, `{"data":["secret-svc"],"total":1,"limit":0,"offset":0,"errors":null}`)
	check("/traces/"+checkoutID.String(), otherKey, 404, `{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":404,"msg":"trace not found"}]}`)
	check("/traces?service=frontend&"+window, otherKey, 200, empty)
	check("/traces?traceID="+checkoutID.String(), otherKey, 200, `{"data":[],"total":0,"limit":0,"offset":0,"errors":[{"msg":"trace not found","traceID":"`+checkoutID.String()+`"}]}`)
	check("/operations?service=frontend", otherKey, 200, empty)
	check("/services/frontend/operations", otherKey, 200, empty)
	check("/dependencies?endTs="+strconv.FormatInt(fixtureNow.UnixMilli(), 10), otherKey, 200, empty)
	// And the other way round.
	check("/traces/"+secretID.String(), adminKey, 404, `{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":404,"msg":"trace not found"}]}`)
	check("/traces?service=secret-svc&"+window, adminKey, 200, empty)
}

// checkEnvelope checks a success answer against the envelope and, for
// traces, the shapes of Jaeger's model/json: every documented field
// present with its JSON type, no other field.
func checkEnvelope(t *testing.T, body []byte) {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("not JSON: %v: %s", err, body)
	}
	keys(t, "envelope", env, "data", "total", "limit", "offset", "errors")
	if env["limit"] != 0.0 || env["offset"] != 0.0 {
		t.Errorf("limit %v, offset %v: Jaeger always answers 0", env["limit"], env["offset"])
	}
	data, ok := env["data"].([]any)
	if !ok {
		t.Fatalf("data is %T, want a list", env["data"])
	}
	for _, d := range data {
		if tr, ok := d.(map[string]any); ok && tr["spans"] != nil {
			checkTrace(t, tr)
		}
	}
}

func checkErrorEnvelope(t *testing.T, body []byte, status int) {
	t.Helper()
	var env struct {
		Data   any `json:"data"`
		Total  int `json:"total"`
		Errors []struct {
			Code int    `json:"code"`
			Msg  string `json:"msg"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Data != nil || len(env.Errors) != 1 || env.Errors[0].Code != status || env.Errors[0].Msg == "" {
		t.Errorf("not Jaeger's error envelope with code %d: %s (%v)", status, body, err)
	}
}

var (
	hex16   = regexp.MustCompile(`^[0-9a-f]{16}$`)
	traceHx = regexp.MustCompile(`^([0-9a-f]{16}|[0-9a-f]{32})$`)
)

func checkTrace(t *testing.T, tr map[string]any) {
	t.Helper()
	keys(t, "trace", tr, "traceID", "spans", "processes", "warnings")
	id, _ := tr["traceID"].(string)
	if !traceHx.MatchString(id) {
		t.Errorf("trace ID %q: want 16 or 32 lower-case hex digits", id)
	}
	procs, _ := tr["processes"].(map[string]any)
	for pid, p := range procs {
		p, _ := p.(map[string]any)
		keys(t, "process "+pid, p, "serviceName", "tags")
		checkKeyValues(t, "process "+pid, p["tags"])
	}
	for _, s := range tr["spans"].([]any) {
		s := s.(map[string]any)
		want := []string{"traceID", "spanID", "operationName", "references", "startTime", "duration", "tags", "logs", "processID", "warnings"}
		if _, ok := s["flags"]; ok {
			want = append(want, "flags")
		}
		where := fmt.Sprintf("span %v", s["spanID"])
		keys(t, where, s, want...)
		if s["traceID"] != id || !hex16.MatchString(fmt.Sprint(s["spanID"])) {
			t.Errorf("%s: IDs %v/%v in trace %s", where, s["traceID"], s["spanID"], id)
		}
		if _, ok := procs[fmt.Sprint(s["processID"])]; !ok {
			t.Errorf("%s: process %v not in processes", where, s["processID"])
		}
		for _, f := range []string{"startTime", "duration"} {
			if n, ok := s[f].(float64); !ok || n < 0 || n != float64(int64(n)) {
				t.Errorf("%s: %s %v is not whole microseconds", where, f, s[f])
			}
		}
		for _, r := range s["references"].([]any) {
			r := r.(map[string]any)
			keys(t, where+" reference", r, "refType", "traceID", "spanID")
			if rt := r["refType"]; rt != "CHILD_OF" && rt != "FOLLOWS_FROM" {
				t.Errorf("%s: refType %v", where, rt)
			}
		}
		checkKeyValues(t, where, s["tags"])
		for _, l := range s["logs"].([]any) {
			l := l.(map[string]any)
			keys(t, where+" log", l, "timestamp", "fields")
			checkKeyValues(t, where+" log", l["fields"])
		}
	}
}

func checkKeyValues(t *testing.T, where string, v any) {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Errorf("%s: tags are %T, want a list", where, v)
		return
	}
	for _, kv := range list {
		kv := kv.(map[string]any)
		keys(t, where+" tag", kv, "key", "type", "value")
		var ok bool
		switch kv["type"] {
		case "string", "binary":
			_, ok = kv["value"].(string)
		case "bool":
			_, ok = kv["value"].(bool)
		case "int64":
			f, isNum := kv["value"].(float64)
			ok = isNum && f == float64(int64(f))
		case "float64":
			_, ok = kv["value"].(float64)
		}
		if !ok {
			t.Errorf("%s: tag %v: type %v with value %#v", where, kv["key"], kv["type"], kv["value"])
		}
	}
}

// keys checks that m has exactly the fields want.
func keys(t *testing.T, where string, m map[string]any, want ...string) {
	t.Helper()
	got := make([]string, 0, len(m))
	for k := range m {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s: fields %v, want %v", where, got, want)
	}
}

// compareGolden compares body with the golden file field by field,
// reporting each difference by its path; -update rewrites the file.
func compareGolden(t *testing.T, path string, body []byte) {
	t.Helper()
	if *update {
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, body, "", "  "); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	var g, w any
	decode := func(b []byte, v *any) {
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(v); err != nil {
			t.Fatalf("decode: %v", err)
		}
	}
	decode(body, &g)
	decode(want, &w)
	var diffs []string
	diffJSON("$", g, w, &diffs)
	for _, d := range diffs {
		t.Error(d)
	}
	if len(diffs) > 0 {
		t.Logf("got:\n%s", body)
	}
}

func diffJSON(path string, got, want any, diffs *[]string) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %T, want an object", path, got))
			return
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			diffJSON(path+"."+k, gv, wv, diffs)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				*diffs = append(*diffs, fmt.Sprintf("%s.%s: unexpected field", path, k))
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %T, want a list", path, got))
			return
		}
		if len(g) != len(w) {
			*diffs = append(*diffs, fmt.Sprintf("%s: %d items, want %d", path, len(g), len(w)))
		}
		for i := range min(len(g), len(w)) {
			diffJSON(fmt.Sprintf("%s[%d]", path, i), g[i], w[i], diffs)
		}
	default:
		if got != want {
			*diffs = append(*diffs, fmt.Sprintf("%s: got %#v, want %#v", path, got, want))
		}
	}
}
