package condition

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestRender(t *testing.T) {
	vars := env()
	vars["ratio"] = 0.25
	vars["big"] = 12345678901234.0
	vars["huge"] = 1e300
	vars["tiny"] = 1e-9
	vars["nan"] = math.NaN()
	vars["ints"] = []int{1, 2, 3}
	vars["typed"] = map[string]int{"b": 2, "a": 1}
	vars["when"] = time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)
	vars["point"] = struct {
		X, Y   int
		hidden string
	}{1, 2, "no"}
	vars["ch"] = make(chan int)
	vars["quote"] = "say \"hi\"\n"
	vars["long"] = strings.Repeat("é", MaxPlaceholderOutput)

	f := func(src, want string) {
		t.Helper()
		tpl, err := CompileTemplate(src)
		if err != nil {
			t.Fatalf("CompileTemplate(%q): %v", src, err)
		}
		if got := tpl.Render(vars); got != want {
			t.Fatalf("Render(%q) = %q, want %q", src, got, want)
		}
	}

	// The guide's logpoints.
	f(`User {user.id} hit endpoint with status {response.status}`, `User abc123 hit endpoint with status 200`)
	f(`Order {order.id} processing took {duration}ms`, `Order ord-1 processing took 12.5ms`)
	f(`Cache {cache.hit ? "HIT" : "MISS"} for key {cache.key}`, `Cache MISS for key user:42`)

	f(``, ``)
	f(`no placeholders`, `no placeholders`)
	f(`{{literal}} and {{ {user.id} }}`, `{literal} and { abc123 }`)
	f(`{ "}" + user.id + "{" }`, `}abc123{`)
	f(`{ {"k": user.id}.k }`, `abc123`)
	f(`{ 'a\'}' }`, `a'}`)
	f("{ `}` }", `}`)
	f(`missing={nobody.id} err={err} {nobody.id ?? "anon"}`, `missing=null err=null anon`)
	f(`{user.roles} {user.roles[1]} {order.items}`, `["admin","dev"] dev [{"qty":2,"sku":"A1"}]`)
	f(`{response.headers}`, `{"content-type":"text/plain"}`)
	f(`{order.total} {ratio} {big} {count} {1 + 2} {7 / 2}`, `12500.5 0.25 12345678901234 3 3 3.5`)
	f(`{huge} {tiny} {nan} {-0.0}`, `1e+300 1e-09 NaN -0`)
	f(`{cache.hit} {not cache.hit} {user.age > 40}`, `false true true`)
	f(`{ints} {typed}`, `[1,2,3] {"a":1,"b":2}`)
	f(`{point} {ch}`, `{"X":1,"Y":2} chan int`)
	f(`{[quote]}`, `["say \"hi\"\n"]`)
	f(`{upper(user.id)} {len(user.roles)}`, `ABC123 2`)
	// A placeholder that fails renders the error in its place; Render never fails.
	f(`a {fail > 3} b`, `a <error: invalid operation: string > int> b`)
	f(`{len(1..100000)}`, `<error: memory budget exceeded>`)

	// Long values are cut on a character boundary.
	tpl, err := CompileTemplate(`{long}`)
	if err != nil {
		t.Fatal(err)
	}
	got := tpl.Render(vars)
	if !strings.HasSuffix(got, "…") || len(got) > MaxPlaceholderOutput+len("…") || !strings.HasPrefix(got, "éé") {
		t.Fatalf("long value rendered as %d bytes ending %q", len(got), got[len(got)-8:])
	}
	_ = vars["when"] // time.Time renders as {} through reflect: no method is called.
	f(`{when}`, `{}`)
}

func TestCompileTemplateError(t *testing.T) {
	f := func(src string, pos int, msgPart string) {
		t.Helper()
		_, err := CompileTemplate(src)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("CompileTemplate(%q) error = %v, want *Error", src, err)
		}
		if e.Pos != pos || !strings.Contains(e.Msg, msgPart) {
			t.Fatalf("CompileTemplate(%q) = pos %d %q, want pos %d containing %q", src, e.Pos, e.Msg, pos, msgPart)
		}
	}
	f(`User {user.id`, 5, "unclosed '{'")
	f(`User user.id}`, 12, "unmatched '}'")
	f(`User {}`, 5, "empty placeholder")
	f(`User {  }`, 5, "empty placeholder")
	f(`User {user.id ==}`, 15, "unexpected end")
	f(`User {user.id} {exec("x")}`, 16, "calling exec is not allowed")
	f(`{ "unterminated }`, 0, "unclosed")
	f(strings.Repeat("{a}", MaxPlaceholders+1), 3*MaxPlaceholders, "placeholders")
	f(strings.Repeat("x", MaxTemplateLen+1), MaxTemplateLen, "limit is 2000")

	_, err := CompileTemplate("line one\nline two {a ==}")
	var e *Error
	if !errors.As(err, &e) || e.Line != 2 || e.Column != 14 {
		t.Fatalf("multi-line template error = %v, want 2:14", err)
	}
}

// TestRenderRedacted: a placeholder that renders alike on the raw and the
// scrubbed variables writes its text; one that differs writes what redact
// returns for its scrubbed rendering. Literal text is never redacted.
func TestRenderRedacted(t *testing.T) {
	raw := map[string]any{"user": map[string]any{"id": "u1", "email": "ann@example.com"}, "n": 3}
	scrubbed := map[string]any{"user": map[string]any{"id": "u1", "email": "[REDACTED:email]"}, "n": 3}
	var given []string
	redact := func(s string) string {
		given = append(given, s)
		return "<" + s + ">"
	}
	f := func(src, want string, wantGiven ...string) {
		t.Helper()
		given = nil
		tpl, err := CompileTemplate(src)
		if err != nil {
			t.Fatalf("CompileTemplate(%q): %v", src, err)
		}
		if got := tpl.RenderRedacted(raw, scrubbed, redact); got != want {
			t.Fatalf("RenderRedacted(%q) = %q, want %q", src, got, want)
		}
		if strings.Join(given, "|") != strings.Join(wantGiven, "|") {
			t.Fatalf("RenderRedacted(%q) asked redact for %q, want %q", src, given, wantGiven)
		}
	}
	f(`literal ann@example.com`, `literal ann@example.com`)
	f(`user {user.id} n={n}`, `user u1 n=3`)
	f(`by {user.email}!`, `by <[REDACTED:email]>!`, `[REDACTED:email]`)
	f(`{user}`, `<{"email":"[REDACTED:email]","id":"u1"}>`, `{"email":"[REDACTED:email]","id":"u1"}`)
	f(`{user.email == "ann@example.com" ? "vip" : "-"} {user.id}`, `<-> u1`, `-`)
	f(`{len(user.email)}`, `<16>`, `16`)
	f(`{int(user.email)}`, `<<error: invalid operation: int([REDACTED:email])>>`, `<error: invalid operation: int([REDACTED:email])>`)
}
