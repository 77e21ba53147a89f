package condition

import (
	"errors"
	"strings"
	"testing"
)

// env is what a snapshot of a request handler looks like once captured:
// JSON-like maps, slices and scalars.
func env() map[string]any {
	return map[string]any{
		"user":     map[string]any{"id": "abc123", "email": "jane@example.com", "roles": []any{"admin", "dev"}, "age": 41},
		"response": map[string]any{"statusCode": 503.0, "status": 200, "headers": map[string]any{"content-type": "text/plain"}},
		"order":    map[string]any{"id": "ord-1", "total": 12500.5, "items": []any{map[string]any{"sku": "A1", "qty": 2}}},
		"err":      nil,
		"fail":     "connection refused",
		"cache":    map[string]any{"hit": false, "key": "user:42"},
		"duration": 12.5,
		"count":    int64(3),
		"note":     "None of them is null",
		"empty":    map[string]any{},
	}
}

func TestEval(t *testing.T) {
	vars := env()
	f := func(src string, want bool) {
		t.Helper()
		c, err := Compile(src)
		if err != nil {
			t.Fatalf("Compile(%q): %v", src, err)
		}
		got, err := c.Eval(vars)
		if err != nil {
			t.Fatalf("Eval(%q): %v", src, err)
		}
		if got != want {
			t.Fatalf("Eval(%q) = %v, want %v", src, got, want)
		}
	}

	// The guide's conditions.
	f(`user.id == "abc123"`, true)
	f(`user.id == "other"`, false)
	f(`response.statusCode >= 500`, true)
	f(`order.total > 10000`, true)
	f(`err != nil`, false)
	f(`err !== null`, false)
	f(`err is not None`, false)
	f(`fail != nil`, true)
	f(`fail !== null`, true)
	f(`fail is not None`, true)

	// Missing variables and fields read as nil, at any depth.
	f(`nobody.id == "abc123"`, false)
	f(`nobody.id.deeper == nil`, true)
	f(`user.missing == nil`, true)
	f(`user.roles[0] == "admin"`, true)
	f(`nobody.roles[0] == nil`, true)
	f(`empty.x is None`, true)
	f(`missing`, false)

	// Spellings of the other SDK languages.
	f(`err === null`, true)
	f(`err == None`, true)
	f(`err is None`, true)
	f(`err == undefined`, true)
	f(`True and not False`, true)
	f(`True && !False`, true)
	f(`false or true`, true)
	f(`false || true`, true)
	f(`!(user.age > 40)`, false)
	f(`not (user.age > 40)`, false)
	f(`user.age === 41 && response.status !== 500`, true)

	// Rewrites never reach inside string literals.
	f(`note == "None of them is null"`, true)
	f(`note contains 'None'`, true)
	f(`"a.b[0] === null" == "a.b[0] === null"`, true)
	f(`'it\'s None' == "it's None"`, true)
	f("`raw is None` startsWith `raw`", true)

	// Operators and builtins a condition needs.
	f(`user.id in ["x", "abc123"]`, true)
	f(`"dev" in user.roles`, true)
	f(`"admin" not in user.roles`, false)
	f(`user.email endsWith "@example.com"`, true)
	f(`user.email startsWith "jane"`, true)
	f(`user.email matches "^[a-z]+@"`, true)
	f(`lower(fail) contains "refused"`, true)
	f(`upper(user.id) == "ABC123"`, true)
	f(`len(user.roles) == 2`, true)
	f(`len(order.items) > 0 && order.items[0].qty == 2`, true)
	f(`response.headers["content-type"] == "text/plain"`, true)
	f(`(cache.hit ? "HIT" : "MISS") == "MISS"`, true)
	f(`(nobody.name ?? "anon") == "anon"`, true)
	f(`count == 3 && count in 1..5`, true)
	f(`duration > 10.0 and duration < 1e2`, true)
	f(`user.age % 2 == 1`, true)
	f(`user.age ** 2 == 1681`, true)
	f("user.id == \"abc123\"\n  && response.status == 200", true)
	f(`1_000 == 1000 && 0x10 == 16 && 1.5e3 == 1500`, true)
	f(`2 in 1..3`, true)
	f(`ceil(duration) == 13 && floor(duration) == 12`, true)
}

func TestCompileError(t *testing.T) {
	f := func(src string, line, col int, msgPart string) {
		t.Helper()
		_, err := Compile(src)
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Compile(%q) error = %v, want *Error", src, err)
		}
		if e.Line != line || e.Column != col || !strings.Contains(e.Msg, msgPart) {
			t.Fatalf("Compile(%q) = %d:%d %q, want %d:%d containing %q", src, e.Line, e.Column, e.Msg, line, col, msgPart)
		}
		if !strings.HasPrefix(e.Error(), strings.Join([]string{itoa(line), itoa(col)}, ":")) {
			t.Fatalf("Error() = %q does not start with line:column", e.Error())
		}
	}

	f(``, 1, 1, "empty")
	f(`   `, 1, 1, "empty")
	f(`user.id ==`, 1, 10, "unexpected end")
	f(`user.id == "abc`, 1, 16, "literal not terminated")
	f(`user.email matches "("`, 1, 12, "error parsing regexp")
	f("user.id == \"a\" &&\n  (x > ", 2, 7, "unexpected end")
	f(`user.id = "abc"`, 1, 9, "unexpected")
	f(`{"a": 1}`, 1, 1, "expected bool")
	f(`1 + 2`, 1, 1, "expected bool")
	// The sandbox: no calls into the application, no closures, no variables.
	f(`exec("rm -rf /")`, 1, 1, "calling exec is not allowed")
	f(`user.id == "x" || os.Exit(1)`, 1, 22, "methods cannot be called")
	f(`all(user.roles, # == "admin")`, 1, 1, "function all is not available")
	f(`len(filter(user.roles, {# != ""})) > 0`, 1, 5, "function filter is not available")
	f(`repeat("a", 1000000) != ""`, 1, 1, "function repeat is not available")
	f(`now() != nil`, 1, 1, "function now is not available")
	f(`let x = 1; x == 1`, 1, 5, "let is not allowed")
	f(`ok == true; true`, 1, 4, "';' is not allowed")
	// Size limits.
	f(strings.Repeat("a", MaxSourceLen+1), 1, MaxSourceLen+1, "limit is 1000")
	f("a"+strings.Repeat(".b", 300)+" == 1", 1, 336, "more than 500 nodes")
	f("s"+strings.Repeat(" + s", 33)+` == ""`, 1, 131, "more than 32 '+' operators")
}

func TestEvalError(t *testing.T) {
	vars := env()
	f := func(src, msgPart string) {
		t.Helper()
		c, err := Compile(src)
		if err != nil {
			t.Fatalf("Compile(%q): %v", src, err)
		}
		got, err := c.Eval(vars)
		if got || err == nil || !strings.Contains(err.Error(), msgPart) {
			t.Fatalf("Eval(%q) = %v, %v; want false and an error containing %q", src, got, err, msgPart)
		}
	}
	// Bounded cost: a range that would fill memory fails fast.
	f(`len(1..1000000000) > 0`, "memory budget exceeded")
	f(`len(1..20000) > 0`, "memory budget exceeded")
	f(`1..100000 == nil`, "memory budget exceeded")
	f(`fail > 3`, "invalid operation")
	f(`user.roles[7] == nil`, "index out of range")
	f(`user.id`, "the condition is a string, not true or false")
	f(`user.email matches "(" + fail`, "error parsing regexp")
}

func TestConcurrentEval(t *testing.T) {
	c, err := Compile(`user.id == "abc123" && len(1..100) == 100`)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bool)
	for range 4 {
		go func() {
			vars := env()
			ok := true
			for range 200 {
				got, err := c.Eval(vars)
				ok = ok && got && err == nil
			}
			done <- ok
		}()
	}
	for range 4 {
		if !<-done {
			t.Fatal("concurrent Eval returned a wrong result")
		}
	}
}

func TestNilVars(t *testing.T) {
	c, err := Compile(`user.id == nil && err is None`)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Eval(nil); !got || err != nil {
		t.Fatalf("Eval(nil) = %v, %v; want true", got, err)
	}
	if c.String() != `user.id == nil && err is None` {
		t.Fatalf("String() = %q", c.String())
	}
}

func TestNormalize(t *testing.T) {
	f := func(src, want string) {
		t.Helper()
		n := normalize(src)
		if n.out != want {
			t.Fatalf("normalize(%q) = %q, want %q", src, n.out, want)
		}
		if len(n.pos) != len(n.out)+1 || n.pos[len(n.out)] != len(src) {
			t.Fatalf("normalize(%q): position map has %d entries for %d bytes", src, len(n.pos), len(n.out))
		}
	}
	f(`a.b == null`, `a?.b == nil`)
	f(`a?.b.c`, `a?.b?.c`)
	f(`a[0].b`, `a?.[0]?.b`)
	f(`a?.[0]`, `a?.[0]`)
	f(`x in [1, 2]`, `x in [1, 2]`)
	f(`f(x)[1]`, `f(x)?.[1]`)
	f(`1..10`, `1..10`)
	f(`1.5 + .5`, `1.5 + .5`)
	f(`err is not None`, `err != nil`)
	f(`err is  None`, `err ==  nil`)
	f(`x === True || y !== False`, `x == true || y != false`)
	f(`a.None == b.null`, `a?.None == b?.null`)
	f(`"a.None" == 'null' && `+"`is`", `"a.None" == 'null' && `+"`is`")
	f(`"esc\" None" == None`, `"esc\" None" == nil`)
	f(`isolated == island`, `isolated == island`)
	f(`ünïcode.fïeld == 1`, `ünïcode?.fïeld == 1`)
	f(`"unterminated None`, `"unterminated None`)
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// TestReads: a condition or template tells which variables it reads, so
// that a caller can capture those alone; evaluating it on them alone gives
// what evaluating it on all of them gives.
func TestReads(t *testing.T) {
	vars := env()
	f := func(src string, all bool, names ...string) {
		t.Helper()
		c, err := Compile(src)
		if err != nil {
			t.Fatalf("Compile(%q): %v", src, err)
		}
		r := c.Reads()
		if r.All != all || strings.Join(r.Names, ",") != strings.Join(names, ",") {
			t.Fatalf("Compile(%q).Reads() = %+v, want names %q, all %v", src, r, names, all)
		}
		if all {
			return
		}
		some := map[string]any{}
		for _, n := range r.Names {
			if v, ok := vars[n]; ok {
				some[n] = v
			}
		}
		want, wantErr := c.Eval(vars)
		got, gotErr := c.Eval(some)
		if got != want || (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("Eval(%q) on what it reads = %v, %v; on everything %v, %v", src, got, gotErr, want, wantErr)
		}
	}
	f(`user.id == "abc123"`, false, "user")
	f(`order.total > 10000 && err != nil`, false, "err", "order")
	f(`user.roles[count - 3] == "admin" || user.age > 40`, false, "count", "user")
	f(`"admin" in user.roles and not cache.hit`, false, "cache", "user")
	f(`len(order.items) == 1 ? duration > 10 : fail contains "x"`, false, "duration", "fail", "order")
	f(`{"k": note}.k startsWith "None"`, false, "note")
	f(`missing == nil`, false, "missing")
	f(`err is not None`, false, "err")
	f(`True and 1 < 2`, false)
	f(`$env["user"] != nil`, true)

	tpl, err := CompileTemplate(`{user.id} took {duration}ms, {user.age}; {{literal}}`)
	if err != nil {
		t.Fatal(err)
	}
	if r := tpl.Reads(); r.All || strings.Join(r.Names, ",") != "duration,user" {
		t.Errorf("template reads %+v, want duration and user", r)
	}
	if r := (Reads{Names: []string{"b", "a"}}).Union(Reads{Names: []string{"a", "c"}, All: true}); !r.All || strings.Join(r.Names, ",") != "a,b,c" {
		t.Errorf("Union = %+v", r)
	}
}
