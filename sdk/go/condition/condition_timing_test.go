package condition

import "testing"

func BenchmarkEval(b *testing.B) {
	vars := env()
	for _, bc := range []struct{ name, src string }{
		{"equal", `user.id == "abc123"`},
		{"missing", `nobody.id == "abc123"`},
		{"compare", `response.statusCode >= 500 && order.total > 10000`},
		{"python", `err is not None or user.email endsWith "@example.com"`},
	} {
		c, err := Compile(bc.src)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Eval(vars); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRender(b *testing.B) {
	vars := env()
	tpl, err := CompileTemplate(`Cache {cache.hit ? "HIT" : "MISS"} for key {cache.key} took {duration}ms`)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = tpl.Render(vars)
	}
}

func BenchmarkCompile(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(`user.id == "abc123" && response.statusCode >= 500`); err != nil {
			b.Fatal(err)
		}
	}
}
