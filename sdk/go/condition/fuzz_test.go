package condition

import (
	"strings"
	"testing"
)

func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`user.id == "abc123"`, `response.statusCode >= 500`, `order.total > 10000`,
		`err != nil`, `err !== null`, `err is not None`, `True and not False`,
		`user.roles[0] in ["a", "b"]`, `(cache.hit ? "HIT" : "MISS") == "HIT"`,
		`len(1..10) == 10`, `"None \" is" == 'x'`, `a?.[0]?.b ?? 1`, `0x1f + 1e3 > .5`,
		"`raw` matches \"^r\"", `let x = 1; x`, `filter(a, # > 1)`, `user.id ==`,
	} {
		f.Add(s)
	}
	vars := env()
	f.Fuzz(func(t *testing.T, src string) {
		c, err := Compile(src)
		if err != nil {
			var e *Error
			if e, _ = err.(*Error); e == nil {
				t.Fatalf("Compile(%q) returned %T, want *Error", src, err)
			}
			if e.Pos < 0 || e.Pos > len(src) || e.Line < 1 || e.Column < 1 {
				t.Fatalf("Compile(%q) error position out of range: %+v", src, e)
			}
			return
		}
		_, _ = c.Eval(vars)
		_, _ = c.Eval(nil)
	})
}

func FuzzCompileTemplate(f *testing.F) {
	for _, s := range []string{
		`User {user.id} hit endpoint with status {response.status}`,
		`Order {order.id} processing took {duration}ms`,
		`Cache {cache.hit ? "HIT" : "MISS"} for key {cache.key}`,
		`{{literal}} {user} { "}" } {{`, `{`, `}`, `{}`, `{ {"a": 1}.a }`, "{`x}`}",
	} {
		f.Add(s)
	}
	vars := env()
	f.Fuzz(func(t *testing.T, src string) {
		tpl, err := CompileTemplate(src)
		if err != nil {
			if e, _ := err.(*Error); e == nil || e.Pos < 0 || e.Pos > len(src) {
				t.Fatalf("CompileTemplate(%q) error = %#v", src, err)
			}
			return
		}
		out := tpl.Render(vars)
		_ = tpl.Render(nil)
		if strings.Contains(src, "keys") {
			return // keys() follows Go's map order: two evaluations may differ
		}
		// The same variables on both sides: nothing to redact.
		never := func(s string) string {
			t.Fatalf("RenderRedacted(%q) redacted %q of alike variables", src, s)
			return s
		}
		if got := tpl.RenderRedacted(vars, vars, never); got != out {
			t.Fatalf("RenderRedacted(%q) = %q, Render = %q", src, got, out)
		}
	})
}
