package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// safeNextCases are redirect targets after sign-in, with what safeNext
// keeps of them.
var safeNextCases = []struct{ next, want string }{
	// Pages of this site.
	{"/", "/"},
	{"/traces?service=a", "/traces?service=a"},
	{"/ok/path?x=1#frag", "/ok/path?x=1#frag"},
	{"/p/p1/services", "/p/p1/services"},
	{"/p/p1/traces?service=a%20b&q=%2F%2Fx", "/p/p1/traces?service=a%20b&q=%2F%2Fx"},
	{"/p/my%2Fproject/traces", "/p/my%2Fproject/traces"},
	{"/p/p1/traces?q=a//b", "/p/p1/traces?q=a//b"},
	{"/caf\u00e9", "/caf\u00e9"},
	// Other sites, directly.
	{"", "/"},
	{"//evil.example", "/"},
	{"//evil.example/", "/"},
	{"https://evil.example/", "/"},
	{"http:evil.example", "/"},
	{"javascript:alert(1)", "/"},
	{"JaVaScRiPt:alert(1)", "/"},
	{"evil.example", "/"},
	{"/\\evil.example", "/"},
	{"\\/evil.example", "/"},
	{"/a\\b", "/"},
	{"///evil.example", "/"},
	// Other sites once a browser strips tabs, newlines and leading blanks.
	{"/\t/evil.example", "/"},
	{"/%09/evil.example", "/"},
	{"/\n/evil.example", "/"},
	{"/\r/evil.example", "/"},
	{"/\r\n/evil.example", "/"},
	{"\t//evil.example", "/"},
	{"/\t\\evil.example", "/"},
	{" /evil", "/"},
	{" //evil.example", "/"},
	{"\x00//evil.example", "/"},
	{"/ok\t", "/"},
	{"/ok\npath", "/"},
	{"/ok?x=\r\nSet-Cookie:a=b", "/"},
	{"/ok\x7f", "/"},
	{"/ok\u0085", "/"},
	// Other sites once a proxy decodes the path.
	{"/%2F/evil.example", "/"},
	{"/%2f%2fevil.example", "/"},
	{"/%5Cevil.example", "/"},
	{"/%5c%5cevil.example", "/"},
	{"/%252F/evil.example", "/"},
	{"/%0A/evil.example", "/"},
	{"/ok%0d%0a", "/"},
	{"/%zz", "/"},
	{"/\xff", "/"},
	{"/@evil.example", "/@evil.example"}, // a path on this site, not a user
}

func TestSafeNext(t *testing.T) {
	for _, c := range safeNextCases {
		if got := safeNext(c.next); got != c.want {
			t.Errorf("safeNext(%q) = %q, want %q", c.next, got, c.want)
		}
		if got := safeNext(c.next); got != "/" && !browserKeepsOnSite(got) {
			t.Errorf("safeNext(%q) = %q, which a browser may take off the site", c.next, got)
		}
	}
}

// browserKeepsOnSite resolves next as a browser would from a page of
// https://tracekit.example and says whether it surely stays there: WHATWG URL
// parsing strips leading and trailing C0 controls and spaces, removes tabs
// and newlines, and reads a backslash as a slash in http(s) URLs, before
// resolving.
func browserKeepsOnSite(next string) bool {
	next = strings.TrimFunc(next, func(r rune) bool { return r <= ' ' })
	next = strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(next)
	base, _ := url.Parse("https://tracekit.example/login")
	u, err := url.Parse(next)
	if err != nil {
		return false
	}
	to := base.ResolveReference(u)
	return to.Scheme == "https" && to.Host == "tracekit.example" && to.User == nil
}

// FuzzSafeNext: whatever safeNext lets through stays on the site once a
// browser has normalised it.
func FuzzSafeNext(f *testing.F) {
	for _, c := range safeNextCases {
		f.Add(c.next)
	}
	f.Fuzz(func(t *testing.T, next string) {
		if got := safeNext(next); got != "/" && (got != next || !browserKeepsOnSite(got)) {
			t.Errorf("safeNext(%q) = %q, which a browser may take off the site", next, got)
		}
	})
}

// TestSignInRedirect: after signing in, the browser goes to the page it was
// sent from, or to "/" if that page is on another site.
func TestSignInRedirect(t *testing.T) {
	h := newHarness(t)
	h.user("alice@example.com", "correct horse", false, "p1")
	for next, want := range map[string]string{
		"/p/p1/services?x=1": "/p/p1/services?x=1",
		"/\t/evil.example":   "/",
		"/\\evil.example":    "/",
	} {
		c := h.browser()
		form := url.Values{"csrf": {h.token(c, "/login?next="+url.QueryEscape(next))}, "email": {"alice@example.com"}, "password": {"correct horse"}, "next": {next}}
		resp, _ := h.post(c, "/login", form)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("sign in with next=%q: %d, Location %q, want %q", next, resp.StatusCode, resp.Header.Get("Location"), want)
		}
		// Signed in already, the sign-in page sends the browser on.
		resp, _ = h.get(c, "/login?next="+url.QueryEscape(next))
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != want {
			t.Errorf("sign-in page with next=%q: %d, Location %q, want %q", next, resp.StatusCode, resp.Header.Get("Location"), want)
		}
	}
	// The form carries the hostile value nowhere either.
	_, body := h.get(h.browser(), "/login?next=%2F%09%2Fevil.example")
	if strings.Contains(body, "evil.example") {
		t.Error("the sign-in form keeps the hostile next")
	}
}
