package tracekit

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

const (
	testTraceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	testSpanID  = "00f067aa0ba902b7"
)

// validTraceparent is a version 00 traceparent, sampled.
var validTraceparent = "00-" + testTraceID + "-" + testSpanID + "-01"

// headers builds request headers from name, value pairs; a name given twice
// is two header lines, as a client sends them.
func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// tracestateMembers is "k0=v0,k1=v1,..." with n list-members.
func tracestateMembers(n int) string {
	m := make([]string, n)
	for i := range m {
		m[i] = fmt.Sprintf("k%d=v%d", i, i)
	}
	return strings.Join(m, ",")
}

// joinedCarrier is a carrier without propagation.ValuesGetter whose Get
// joins the values of a header with ",", as HTTP allows a proxy to fold
// header lines and as some frameworks' header maps do.
type joinedCarrier http.Header

func (c joinedCarrier) Get(key string) string { return strings.Join(http.Header(c).Values(key), ",") }
func (c joinedCarrier) Set(key, value string) { http.Header(c).Set(key, value) }
func (c joinedCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// extractCase is what a service must make of incoming trace headers. Its
// name quotes the rule of the W3C Trace Context specification it checks.
type extractCase struct {
	name      string
	header    http.Header
	continued bool   // the trace of validTraceparent is continued
	sampled   bool   // the incoming span was sampled (when continued)
	random    bool   // the incoming random flag (Level 2) is kept
	state     string // the tracestate kept, as it is sent on
}

// traceparentCases are the rules of the traceparent header.
func traceparentCases() []extractCase {
	tp := func(version, traceID, spanID, flags string) string {
		return version + "-" + traceID + "-" + spanID + "-" + flags
	}
	upper := strings.ToUpper
	return []extractCase{
		{name: "version 00: version-traceid-parentid-traceflags continues the trace",
			header: headers("traceparent", validTraceparent), continued: true, sampled: true},
		{name: "trace-flags: sampled is the bit 00000001 (00: not sampled)",
			header: headers("traceparent", tp("00", testTraceID, testSpanID, "00")), continued: true},
		{name: "trace-flags: random (Level 2) is the bit 00000010 and is kept",
			header: headers("traceparent", tp("00", testTraceID, testSpanID, "03")), continued: true, sampled: true, random: true},
		{name: "trace-flags: other flags are not defined; a receiver ignores them (09)",
			header: headers("traceparent", tp("00", testTraceID, testSpanID, "09")), continued: true, sampled: true},
		{name: "trace-flags: other flags are not defined; a receiver ignores them (fc, not sampled)",
			header: headers("traceparent", tp("00", testTraceID, testSpanID, "fc")), continued: true},
		{name: "version 00: the header is exactly 55 characters; more is invalid",
			header: headers("traceparent", validTraceparent+"-extra")},
		{name: "version 00: the header is exactly 55 characters; a trailing character is invalid",
			header: headers("traceparent", validTraceparent+"0")},
		{name: "trace-flags: 2 HEXDIGLC; one digit is invalid",
			header: headers("traceparent", tp("00", testTraceID, testSpanID, "1"))},
		{name: "trace-flags: HEXDIGLC; upper case is invalid",
			header: headers("traceparent", tp("00", testTraceID, testSpanID, "0A"))},
		{name: "version: ff is forbidden",
			header: headers("traceparent", tp("ff", testTraceID, testSpanID, "01"))},
		{name: "version: 2 HEXDIGLC; one digit is invalid",
			header: headers("traceparent", tp("0", testTraceID, testSpanID, "01"))},
		{name: "version: HEXDIGLC; upper case is invalid",
			header: headers("traceparent", tp("0A", testTraceID, testSpanID, "01"))},
		{name: "version: HEXDIGLC; a non-hex character is invalid",
			header: headers("traceparent", tp("0g", testTraceID, testSpanID, "01"))},
		{name: "higher version: parsed as 00 when exactly 55 characters",
			header: headers("traceparent", tp("01", testTraceID, testSpanID, "01")), continued: true, sampled: true},
		{name: "higher version: what follows the first 55 characters after a '-' is ignored",
			header: headers("traceparent", tp("cc", testTraceID, testSpanID, "01")+"-what-the-future-holds"), continued: true, sampled: true},
		{name: "higher version: what follows the first 55 characters after a '-' is ignored (not sampled)",
			header: headers("traceparent", tp("cc", testTraceID, testSpanID, "00")+"-what-the-future-holds"), continued: true},
		{name: "higher version: trace-flags followed by anything but the end or a '-' is invalid",
			header: headers("traceparent", tp("cc", testTraceID, testSpanID, "01")+"x-future")},
		{name: "higher version: shorter than 55 characters is invalid",
			header: headers("traceparent", tp("cc", testTraceID, testSpanID, "1"))},
		{name: "higher version: the trace-id is 32 HEXDIGLC followed by a '-'",
			header: headers("traceparent", tp("cc", testTraceID+"0", testSpanID, "01")+"-x")},
		{name: "trace-id: HEXDIGLC; upper case is invalid",
			header: headers("traceparent", tp("00", upper(testTraceID), testSpanID, "01"))},
		{name: "parent-id: HEXDIGLC; upper case is invalid",
			header: headers("traceparent", tp("00", testTraceID, upper(testSpanID), "01"))},
		{name: "trace-id: HEXDIGLC; a non-hex character is invalid",
			header: headers("traceparent", tp("00", testTraceID[:31]+"g", testSpanID, "01"))},
		{name: "trace-id: 32 HEXDIGLC; 31 is invalid",
			header: headers("traceparent", tp("00", testTraceID[:31], testSpanID, "01"))},
		{name: "parent-id: 16 HEXDIGLC; 17 is invalid",
			header: headers("traceparent", tp("00", testTraceID, testSpanID+"0", "01"))},
		{name: "trace-id: all zeroes is forbidden",
			header: headers("traceparent", tp("00", strings.Repeat("0", 32), testSpanID, "01"))},
		{name: "parent-id: all zeroes is forbidden",
			header: headers("traceparent", tp("00", testTraceID, strings.Repeat("0", 16), "01"))},
		{name: "fields are separated by '-'",
			header: headers("traceparent", strings.ReplaceAll(validTraceparent, "-", "_"))},
		{name: "no traceparent: a new trace",
			header: headers()},
		{name: "an empty traceparent: a new trace",
			header: headers("traceparent", "")},
		{name: "a value that is not a traceparent: a new trace",
			header: headers("traceparent", "garbage")},
		{name: "optional whitespace (OWS) around the value is not part of it",
			header: headers("traceparent", " \t"+validTraceparent+" "), continued: true, sampled: true},
		{name: "two traceparent headers are invalid: restart the trace (same value)",
			header: headers("traceparent", validTraceparent, "traceparent", validTraceparent)},
		{name: "two traceparent headers are invalid: restart the trace (different values)",
			header: headers("traceparent", validTraceparent, "traceparent", "00-"+strings.Repeat("a", 32)+"-"+strings.Repeat("b", 16)+"-01")},
		{name: "two traceparent headers folded into one with ',' are invalid: restart the trace",
			header: headers("traceparent", validTraceparent+","+validTraceparent)},
		{name: "two higher-version traceparent headers folded into one with ',' are invalid",
			header: headers("traceparent", "cc"+validTraceparent[2:]+",cc"+validTraceparent[2:])},
	}
}

// tracestateCases are the rules of the tracestate header, each with a
// valid traceparent unless said otherwise.
func tracestateCases() []extractCase {
	ok := func(name, want string, states ...string) extractCase {
		h := headers("traceparent", validTraceparent)
		for _, s := range states {
			h.Add("tracestate", s)
		}
		return extractCase{name: name, header: h, continued: true, sampled: true, state: want}
	}
	discarded := func(name string, states ...string) extractCase { return ok(name, "", states...) }
	long := func(c byte, n int) string { return strings.Repeat(string(c), n) }
	return []extractCase{
		{name: "tracestate is ignored without a valid traceparent",
			header: headers("traceparent", strings.ToUpper(validTraceparent), "tracestate", "a=1")},
		{name: "tracestate is ignored when there are two traceparent headers",
			header: headers("traceparent", validTraceparent, "traceparent", validTraceparent, "tracestate", "a=1")},
		ok("no tracestate: an empty list", ""),
		ok("an empty tracestate header is accepted", "", ""),
		ok("list-member: simple-key \"=\" value", "vendor=value", "vendor=value"),
		ok("the order of list-members is kept", "b=2,a=1,c=3", "b=2,a=1,c=3"),
		ok("optional whitespace (OWS) around ',' is allowed", "a=1,b=2,c=3", " a=1 ,\tb=2\t, c=3 "),
		ok("empty list-members are allowed and ignored", "a=1,b=2", ",a=1,,,b=2,"),
		ok("whitespace-only list-members are allowed and ignored", "a=1,b=2", "a=1, ,\t,b=2"),
		ok("several tracestate headers are one list, combined in order", "b=2,a=1,c=3", "b=2", "a=1,c=3"),
		ok("several tracestate headers: empty ones are allowed", "a=1,b=2", "a=1", "", " ", "b=2"),
		ok("there can be a maximum of 32 list-members", tracestateMembers(32), tracestateMembers(32)),
		ok("32 list-members across headers, empty members not counted", tracestateMembers(32),
			tracestateMembers(16)+",,", ","+strings.TrimPrefix(tracestateMembers(32), tracestateMembers(16)+",")),
		discarded("more than 32 list-members: the whole tracestate is discarded", tracestateMembers(33)),
		discarded("more than 32 list-members across several headers: discarded", tracestateMembers(20), tracestateMembers(33)[len(tracestateMembers(20))+1:]),
		ok("simple-key: lcalpha then lcalpha, DIGIT, '_', '-', '*', '/'", "k0_-*/=v", "k0_-*/=v"),
		ok("simple-key: up to 256 characters", "k"+long('a', 255)+"=v", "k"+long('a', 255)+"=v"),
		discarded("simple-key: more than 256 characters is invalid", "k"+long('a', 256)+"=v"),
		discarded("simple-key: starts with lcalpha; a DIGIT first is invalid", "1a=x"),
		discarded("key: lower case only; an upper-case letter is invalid", "Upper=1"),
		discarded("key: a character outside a-z 0-9 _ - * / is invalid", "a.b=1"),
		discarded("key: whitespace before '=' is invalid", "a =1"),
		ok("multi-tenant-key: tenant-id \"@\" system-id", "tenant@vendor=x", "tenant@vendor=x"),
		ok("multi-tenant-key: the tenant-id may start with a DIGIT", "1tenant@vendor=x", "1tenant@vendor=x"),
		ok("multi-tenant-key: tenant-id up to 241 characters", "t"+long('a', 240)+"@v=x", "t"+long('a', 240)+"@v=x"),
		discarded("multi-tenant-key: tenant-id of more than 241 characters is invalid", "t"+long('a', 241)+"@v=x"),
		ok("multi-tenant-key: system-id up to 14 characters", "t@v"+long('a', 13)+"=x", "t@v"+long('a', 13)+"=x"),
		discarded("multi-tenant-key: system-id of more than 14 characters is invalid", "t@v"+long('a', 14)+"=x"),
		discarded("multi-tenant-key: system-id starts with lcalpha", "t@1v=x"),
		discarded("multi-tenant-key: an empty tenant-id is invalid", "@vendor=x"),
		discarded("multi-tenant-key: an empty system-id is invalid", "tenant@=x"),
		discarded("multi-tenant-key: one '@' only", "a@b@c=x"),
		ok("value: printable ASCII 0x20-0x7E except ',' and '='", "k=a b!~\"#;<>?[]", "k=a b!~\"#;<>?[]"),
		ok("value: a leading space is part of the value", "k= v", "k= v"),
		ok("value: trailing spaces are OWS, not part of the value", "k=v", "k=v   "),
		ok("value: up to 256 characters", "k="+long('v', 256), "k="+long('v', 256)),
		discarded("value: more than 256 characters is invalid", "k="+long('v', 257)),
		discarded("value: an empty value is invalid", "a=1,k="),
		discarded("value: '=' is invalid", "a=b=c"),
		discarded("value: a control character is invalid", "k=a\tb"),
		discarded("value: a character beyond 0x7E is invalid", "k=caf\u00e9"),
		discarded("value: DEL (0x7F) is invalid", "k=a\x7fb"),
		discarded("list-member: a member without '=' is invalid", "a=1,novalue"),
		discarded("duplicated keys: the whole tracestate is discarded", "a=1,a=2"),
		discarded("duplicated keys across several headers: discarded", "a=1,b=2", "c=3,a=4"),
		discarded("an invalid list-member discards the whole tracestate, the traceparent is kept", "a=1,B=2,c=3"),
	}
}

// checkExtracted checks the span context TraceContext extracted for c.
func checkExtracted(t *testing.T, c extractCase, sc trace.SpanContext) {
	t.Helper()
	if !c.continued {
		if sc.IsValid() {
			t.Errorf("extracted %s-%s, want nothing: a new trace", sc.TraceID(), sc.SpanID())
		}
		return
	}
	if sc.TraceID().String() != testTraceID || sc.SpanID().String() != testSpanID || !sc.IsRemote() {
		t.Fatalf("extracted %s-%s remote=%v, want the remote span %s-%s", sc.TraceID(), sc.SpanID(), sc.IsRemote(), testTraceID, testSpanID)
	}
	if sc.IsSampled() != c.sampled || sc.TraceFlags().IsRandom() != c.random {
		t.Errorf("flags %s, want sampled=%v random=%v", sc.TraceFlags(), c.sampled, c.random)
	}
	if got := sc.TraceState().String(); got != c.state {
		t.Errorf("tracestate %q, want %q", got, c.state)
	}
}

// TestTraceContextExtract checks each rule on the propagator alone, through
// the carriers an application hands it: http.Header, which gives every
// header line, and a carrier that folds them into one value.
func TestTraceContextExtract(t *testing.T) {
	for _, c := range append(traceparentCases(), tracestateCases()...) {
		t.Run(c.name, func(t *testing.T) {
			for _, carrier := range []struct {
				name string
				c    propagation.TextMapCarrier
			}{
				{"HeaderCarrier", propagation.HeaderCarrier(c.header.Clone())},
				{"folded", joinedCarrier(c.header.Clone())},
			} {
				t.Run(carrier.name, func(t *testing.T) {
					ctx := TraceContext{}.Extract(context.Background(), carrier.c)
					checkExtracted(t, c, trace.SpanContextFromContext(ctx))
				})
			}
		})
	}
}

// TestTraceContextThroughService checks each rule end to end: a request
// with the headers reaches a service behind HTTPMiddleware whose handler
// calls another service through HTTPClient.
func TestTraceContextThroughService(t *testing.T) {
	s, _ := newTestSDK(t, nil)
	svc := newTracedService(t, s)
	for _, c := range append(traceparentCases(), tracestateCases()...) {
		t.Run(c.name, func(t *testing.T) {
			checkHop(t, c, svc.call(t, "net/http", c.header, nil))
		})
	}
}

// TestTraceContextThroughFrameworks: the cases of issue 13 through each
// middleware and HTTPClient.
func TestTraceContextThroughFrameworks(t *testing.T) {
	s, _ := newTestSDK(t, nil)
	svc := newTracedService(t, s)
	cases := []extractCase{
		{name: "two traceparent headers start a new trace",
			header: headers("traceparent", validTraceparent, "traceparent", validTraceparent, "tracestate", "a=1")},
		{name: "a valid traceparent and 33 tracestate list-members continue the trace with an empty tracestate",
			header: headers("traceparent", validTraceparent, "tracestate", tracestateMembers(33)), continued: true, sampled: true},
		{name: "several tracestate headers are combined in order and sent on",
			header:    headers("traceparent", validTraceparent, "tracestate", "z=26, y=25", "tracestate", "", "tracestate", "tk@vendor=1"),
			continued: true, sampled: true, state: "z=26,y=25,tk@vendor=1"},
	}
	for _, framework := range []string{"net/http", "gin", "echo"} {
		for _, c := range cases {
			t.Run(framework+"/"+c.name, func(t *testing.T) {
				checkHop(t, c, svc.call(t, framework, c.header, nil))
			})
		}
	}
}

// TestTracestateUpdatedEntryMovesToTheFront: a service that sets its own
// entry (trace.TraceState.Insert) sends it first; a new entry in a full list
// pushes out the last one, so that at most 32 are sent.
func TestTracestateUpdatedEntryMovesToTheFront(t *testing.T) {
	s, _ := newTestSDK(t, nil)
	svc := newTracedService(t, s)
	for _, c := range []struct {
		name, in, key, value, want string
	}{
		{"an updated key moves to the beginning of the list", "a=1,b=2,c=3", "b", "9", "b=9,a=1,c=3"},
		{"a new key is added to the beginning of the list", "a=1,b=2", "tk", "x", "tk=x,a=1,b=2"},
		{"a new key in a list of 32: the right-most member is removed", tracestateMembers(32), "tk", "x", "tk=x," + tracestateMembers(31)},
		{"a new key when the incoming tracestate was discarded", "a=1,a=2", "tk", "x", "tk=x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := svc.call(t, "net/http", headers("traceparent", validTraceparent, "tracestate", c.in),
				func(r *http.Request) *http.Request {
					sc := trace.SpanContextFromContext(r.Context())
					ts, err := sc.TraceState().Insert(c.key, c.value)
					if err != nil {
						t.Errorf("Insert(%q, %q): %v", c.key, c.value, err)
					}
					return r.WithContext(trace.ContextWithSpanContext(r.Context(), sc.WithTraceState(ts)))
				})
			if got := strings.Join(h.tracestate, "|"); got != c.want {
				t.Errorf("downstream tracestate %q, want %q", got, c.want)
			}
		})
	}
}

func TestTraceContextInject(t *testing.T) {
	tid, _ := trace.TraceIDFromHex(testTraceID)
	sid, _ := trace.SpanIDFromHex(testSpanID)
	ts, _ := trace.ParseTraceState("b=2,a=1")
	sc := func(flags trace.TraceFlags, ts trace.TraceState) trace.SpanContext {
		return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags, TraceState: ts})
	}
	for _, c := range []struct {
		name            string
		sc              trace.SpanContext
		carrier         http.Header // on the carrier before Inject
		wantTraceparent string      // "" for none
		wantTracestate  []string
	}{
		{name: "no valid span context: nothing is written", sc: trace.SpanContext{}, carrier: headers("tracestate", "x=1"),
			wantTracestate: []string{"x=1"}},
		{name: "traceparent: version 00, lower-case hex, sampled",
			sc: sc(trace.FlagsSampled, trace.TraceState{}), wantTraceparent: validTraceparent},
		{name: "traceparent: not sampled", sc: sc(0, trace.TraceState{}),
			wantTraceparent: "00-" + testTraceID + "-" + testSpanID + "-00"},
		{name: "trace-flags: the random flag (Level 2) is sent", sc: sc(trace.FlagsSampled|trace.FlagsRandom, trace.TraceState{}),
			wantTraceparent: "00-" + testTraceID + "-" + testSpanID + "-03"},
		{name: "trace-flags: flags that are not defined are set to zero", sc: sc(0xff, trace.TraceState{}),
			wantTraceparent: "00-" + testTraceID + "-" + testSpanID + "-03"},
		{name: "tracestate: list-members in order", sc: sc(trace.FlagsSampled, ts),
			wantTraceparent: validTraceparent, wantTracestate: []string{"b=2,a=1"}},
		{name: "tracestate: an empty list is not sent", sc: sc(trace.FlagsSampled, trace.TraceState{}),
			wantTraceparent: validTraceparent},
		{name: "tracestate: one already on the carrier is replaced, whatever the number of lines",
			sc: sc(trace.FlagsSampled, ts), carrier: headers("tracestate", "x=1", "tracestate", "y=2"),
			wantTraceparent: validTraceparent, wantTracestate: []string{"b=2,a=1"}},
		{name: "tracestate: one already on the carrier belongs to another traceparent and is removed",
			sc: sc(trace.FlagsSampled, trace.TraceState{}), carrier: headers("traceparent", "00-"+strings.Repeat("a", 32)+"-"+strings.Repeat("b", 16)+"-01", "tracestate", "x=1"),
			wantTraceparent: validTraceparent},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, carrier := range []struct {
				name string
				c    func(http.Header) propagation.TextMapCarrier
			}{
				{"HeaderCarrier", func(h http.Header) propagation.TextMapCarrier { return propagation.HeaderCarrier(h) }},
				{"headerCarrier", func(h http.Header) propagation.TextMapCarrier { return headerCarrier(h) }},
			} {
				t.Run(carrier.name, func(t *testing.T) {
					h := c.carrier.Clone()
					if h == nil {
						h = http.Header{}
					}
					TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), c.sc), carrier.c(h))
					if got := h.Get("traceparent"); got != c.wantTraceparent || len(h.Values("traceparent")) > 1 {
						t.Errorf("traceparent %q, want %q", h.Values("traceparent"), c.wantTraceparent)
					}
					if got := h.Values("tracestate"); !slices.Equal(got, c.wantTracestate) {
						t.Errorf("tracestate %q, want %q", got, c.wantTracestate)
					}
				})
			}
		})
	}
}

// TestTraceContextRoundTrip: what Inject writes, Extract reads back.
func TestTraceContextRoundTrip(t *testing.T) {
	in := propagation.HeaderCarrier(headers("traceparent", "00-"+testTraceID+"-"+testSpanID+"-03",
		"tracestate", "a=1", "tracestate", "tenant@sys= x y"))
	ctx := TraceContext{}.Extract(context.Background(), in)
	out := propagation.HeaderCarrier{}
	TraceContext{}.Inject(ctx, out)
	if got, want := out.Get("traceparent"), in.Get("traceparent"); got != want {
		t.Errorf("traceparent %q, want %q", got, want)
	}
	if got := out.Get("tracestate"); got != "a=1,tenant@sys= x y" {
		t.Errorf("tracestate %q, want a=1,tenant@sys= x y", got)
	}
}

// TestPropagatorsInstalled: NewSDK installs NewPropagator, the SDK's own
// W3C Trace Context and Baggage, as OpenTelemetry's global, and HTTPClient
// writes the W3C headers by TraceContext's rules whatever the global.
func TestPropagatorsInstalled(t *testing.T) {
	prev := otel.GetTextMapPropagator()
	t.Cleanup(func() { otel.SetTextMapPropagator(prev) })
	s, err := NewSDK(&Config{ServiceName: "propagators", Endpoint: newReceiver(t).endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	g := otel.GetTextMapPropagator()
	if _, ok := g.(sdkPropagator); !ok {
		t.Fatalf("global propagator %T, want NewPropagator's", g)
	}
	if f := g.Fields(); !slices.Equal(f, []string{"traceparent", "tracestate", "baggage"}) {
		t.Errorf("fields %q", f)
	}
	two := propagation.HeaderCarrier(headers("traceparent", validTraceparent, "traceparent", validTraceparent))
	if sc := trace.SpanContextFromContext(g.Extract(context.Background(), two)); sc.IsValid() {
		t.Error("the global propagator continued a trace from two traceparent headers")
	}

	// A program that installs its own propagator after NewSDK keeps its
	// headers on HTTPClient's calls; traceparent and tracestate stay ours.
	srv, got := headerRecorder(t, http.StatusOK)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, fixedHeader{}))
	ctx := TraceContext{}.Extract(context.Background(), propagation.HeaderCarrier(headers("traceparent", validTraceparent, "tracestate", "a=1")))
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	req.Header.Set("tracestate", "stale=1") // headers copied from elsewhere
	resp, err := HTTPClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := got()
	if h.Get("x-fixed") != "1" || !strings.Contains(h.Get("traceparent"), testTraceID) || !slices.Equal(h.Values("tracestate"), []string{"a=1"}) {
		t.Errorf("headers %v: want x-fixed, the trace and tracestate a=1", h)
	}
}

// fixedHeader is a propagator of a program's own: it writes x-fixed: 1.
type fixedHeader struct{}

func (fixedHeader) Inject(_ context.Context, c propagation.TextMapCarrier) { c.Set("x-fixed", "1") }
func (fixedHeader) Extract(ctx context.Context, _ propagation.TextMapCarrier) context.Context {
	return ctx
}
func (fixedHeader) Fields() []string { return []string{"x-fixed"} }

func TestBaggagePropagates(t *testing.T) {
	s, _ := newTestSDK(t, nil)
	h := newTracedService(t, s).call(t, "net/http", headers("traceparent", validTraceparent, "baggage", "user.id=42"), nil)
	if got := strings.Join(h.baggage, "|"); got != "user.id=42" {
		t.Errorf("downstream baggage %q, want user.id=42", got)
	}
}

// hop is what a request carried into and out of a traced service: the span
// the middleware started, its parent, and the trace headers a downstream
// call through HTTPClient sent.
type hop struct {
	span        trace.SpanContext
	parent      trace.SpanContext // valid only for sampled spans
	traceparent []string
	tracestate  []string
	baggage     []string
}

// checkHop checks what a service did with the incoming headers of c.
func checkHop(t *testing.T, c extractCase, h hop) {
	t.Helper()
	gotTrace := h.span.TraceID().String()
	if c.continued {
		if gotTrace != testTraceID {
			t.Errorf("trace %s, want the incoming %s", gotTrace, testTraceID)
		}
		if c.sampled && (h.parent.SpanID().String() != testSpanID || !h.parent.IsRemote()) {
			t.Errorf("parent %v, want the remote span %s", h.parent, testSpanID)
		}
		if h.span.IsSampled() != c.sampled {
			t.Errorf("sampled = %v, want the caller's %v", h.span.IsSampled(), c.sampled)
		}
	} else {
		if gotTrace == testTraceID || !h.span.IsValid() {
			t.Errorf("trace %s, want a new trace", gotTrace)
		}
		if h.parent.IsValid() {
			t.Errorf("parent %v, want a root span", h.parent)
		}
		if !h.span.IsSampled() {
			t.Error("a new trace must be sampled (SampleRate 1)")
		}
	}
	// Downstream gets one traceparent: the same trace, the client span's
	// ID, the decision; and the tracestate kept, or none.
	if len(h.traceparent) != 1 {
		t.Fatalf("downstream traceparent headers %q, want one", h.traceparent)
	}
	dsc, ok := parseTraceparent(h.traceparent[0])
	if !ok || len(h.traceparent[0]) != traceparentLen || dsc.TraceID != h.span.TraceID() {
		t.Errorf("downstream traceparent %q, want 00-%s-<span>-<flags>", h.traceparent[0], gotTrace)
	}
	if dsc.SpanID.String() == testSpanID || dsc.SpanID == h.span.SpanID() {
		t.Errorf("downstream traceparent %q reuses a span ID instead of the client span's", h.traceparent[0])
	}
	if dsc.TraceFlags.IsSampled() != h.span.IsSampled() {
		t.Errorf("downstream traceparent %q, want sampled = %v", h.traceparent[0], h.span.IsSampled())
	}
	want := []string(nil)
	if c.state != "" {
		want = []string{c.state}
	}
	if !slices.Equal(h.tracestate, want) {
		t.Errorf("downstream tracestate %q, want %q", h.tracestate, want)
	}
}

// tracedService is one service behind each of the SDK's middlewares, whose
// handler records its span and calls a downstream service through
// HTTPClient with the request's context.
type tracedService struct {
	handlers map[string]http.Handler // by framework

	mu   sync.Mutex
	last hop
	// edit, when not nil, changes the request's context before the call.
	edit func(*http.Request) *http.Request
}

func newTracedService(t *testing.T, s *SDK) *tracedService {
	t.Helper()
	svc := &tracedService{}
	downstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc.mu.Lock()
		defer svc.mu.Unlock()
		svc.last.traceparent = r.Header.Values("traceparent")
		svc.last.tracestate = r.Header.Values("tracestate")
		svc.last.baggage = r.Header.Values("baggage")
	}))
	t.Cleanup(downstream.Close)

	handle := func(r *http.Request) {
		span := trace.SpanFromContext(r.Context())
		svc.mu.Lock()
		svc.last.span = span.SpanContext()
		if ro, ok := span.(sdktrace.ReadOnlySpan); ok {
			svc.last.parent = ro.Parent()
		}
		edit := svc.edit
		svc.mu.Unlock()
		if edit != nil {
			r = edit(r)
		}
		req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, downstream.URL, nil)
		resp, err := HTTPClient.Do(req)
		if err != nil {
			t.Errorf("downstream call: %v", err)
			return
		}
		resp.Body.Close()
	}
	gin.SetMode(gin.TestMode)
	g := gin.New()
	g.Use(s.GinMiddleware())
	g.GET("/orders", func(c *gin.Context) { handle(c.Request) })
	e := echo.New()
	e.Use(s.EchoMiddleware())
	e.GET("/orders", func(c echo.Context) error { handle(c.Request()); return nil })
	svc.handlers = map[string]http.Handler{
		"net/http": s.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handle(r) })),
		"gin":      g,
		"echo":     e,
	}
	return svc
}

// call sends GET /orders with header to the service behind framework's
// middleware; edit, when not nil, changes the handler's context before the
// downstream call.
func (svc *tracedService) call(t *testing.T, framework string, header http.Header, edit func(*http.Request) *http.Request) hop {
	t.Helper()
	svc.mu.Lock()
	svc.last, svc.edit = hop{}, edit
	svc.mu.Unlock()
	req := httptest.NewRequest(http.MethodGet, "/orders", nil)
	req.Header = header.Clone()
	rec := httptest.NewRecorder()
	svc.handlers[framework].ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("%s: status %d", framework, rec.Code)
	}
	svc.mu.Lock()
	defer svc.mu.Unlock()
	return svc.last
}
