package condition

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

const (
	// MaxTemplateLen is the longest logpoint template, in bytes.
	MaxTemplateLen = 2000
	// MaxPlaceholders is the most {expression} placeholders a template may
	// hold.
	MaxPlaceholders = 32
	// MaxPlaceholderOutput is the most bytes one placeholder renders to;
	// longer values are cut and end with "…".
	MaxPlaceholderOutput = 1024
)

// Template is a compiled logpoint message such as
// `Order {order.id} processing took {duration}ms`. It is safe for concurrent
// use.
type Template struct {
	src   string
	parts []part
	reads Reads
}

// part is a literal run of text, or a placeholder when prog is set.
type part struct {
	lit  string
	src  string // placeholder source, without braces
	prog *vm.Program
	norm normalized
}

// CompileTemplate compiles a logpoint template. Text between braces is an
// expression in the language of Compile, of any type; `{{` and `}}` stand for
// literal braces. The error is an *Error pointing into the template.
func CompileTemplate(src string) (*Template, error) {
	if len(src) > MaxTemplateLen {
		return nil, newError(src, MaxTemplateLen,
			fmt.Sprintf("template is %d bytes long; the limit is %d", len(src), MaxTemplateLen))
	}
	t := &Template{src: src}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{lit: lit.String()})
			lit.Reset()
		}
	}
	placeholders := 0
	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == '{' && i+1 < len(src) && src[i+1] == '{':
			lit.WriteByte('{')
			i += 2
		case c == '}' && i+1 < len(src) && src[i+1] == '}':
			lit.WriteByte('}')
			i += 2
		case c == '}':
			return nil, newError(src, i, "unmatched '}'; write '}}' for a literal brace")
		case c == '{':
			end := closingBrace(src, i+1)
			if end < 0 {
				return nil, newError(src, i, "unclosed '{'; close the placeholder with '}' or write '{{' for a literal brace")
			}
			body := src[i+1 : end]
			if strings.TrimSpace(body) == "" {
				return nil, newError(src, i, "empty placeholder '{}'; write an expression such as {user.id}")
			}
			if placeholders++; placeholders > MaxPlaceholders {
				return nil, newError(src, i, fmt.Sprintf("more than %d placeholders", MaxPlaceholders))
			}
			prog, norm, reads, err := compile(body, expr.AsAny())
			if err != nil {
				e := err.(*Error)
				return nil, newError(src, i+1+e.Pos, e.Msg)
			}
			t.reads = t.reads.Union(reads)
			flush()
			t.parts = append(t.parts, part{src: body, prog: prog, norm: norm})
			i = end + 1
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	return t, nil
}

// closingBrace returns the offset of the '}' that closes a placeholder whose
// body starts at src[i], skipping braces inside string literals and nested
// map literals; -1 when there is none.
func closingBrace(src string, i int) int {
	depth := 0
	for i < len(src) {
		switch src[i] {
		case '"', '\'':
			i = skipQuoted(src, i)
			continue
		case '`':
			j := strings.IndexByte(src[i+1:], '`')
			if j < 0 {
				return -1
			}
			i += j + 2
			continue
		case '{':
			depth++
		case '}':
			if depth == 0 {
				return i
			}
			depth--
		}
		i++
	}
	return -1
}

// String returns the source the template was compiled from.
func (t *Template) String() string { return t.src }

// Reads returns the variables the template's placeholders read.
func (t *Template) Reads() Reads { return t.reads }

// Render renders the template with captured variables. It never fails: a
// placeholder whose expression fails renders as `<error: ...>`. Strings are
// written as they are, nil as null, numbers without exponent where
// reasonable, maps and slices as compact JSON.
func (t *Template) Render(vars map[string]any) string {
	if len(t.parts) == 1 && t.parts[0].prog == nil {
		return t.parts[0].lit
	}
	var b []byte
	for i := range t.parts {
		b = t.parts[i].appendTo(b, vars)
	}
	return string(b)
}

// RenderRedacted renders the template for a message that leaves the
// process, so that a placeholder cannot show a value that scrubbing hides.
// raw are the variables as the application has them and scrubbed the same
// variables as scrubbing leaves them. Each placeholder is evaluated on raw,
// so that it means what it says (`{user.email == "a@b.c" ? "vip" : "-"}`
// compares the email), and on scrubbed: when both render alike, nothing
// scrubbing changes reached it and its text is written; when they differ,
// redact is given the scrubbed rendering and what it returns is written
// instead. Literal text is written as it is.
func (t *Template) RenderRedacted(raw, scrubbed map[string]any, redact func(scrubbed string) string) string {
	if len(t.parts) == 1 && t.parts[0].prog == nil {
		return t.parts[0].lit
	}
	var b, alt []byte
	for i := range t.parts {
		p := &t.parts[i]
		start := len(b)
		b = p.appendTo(b, raw)
		if p.prog == nil {
			continue
		}
		alt = p.appendTo(alt[:0], scrubbed)
		if string(alt) != string(b[start:]) {
			b = append(b[:start], redact(string(alt))...)
		}
	}
	return string(b)
}

// appendTo appends the part rendered with vars.
func (p *part) appendTo(b []byte, vars map[string]any) []byte {
	if p.prog == nil {
		return append(b, p.lit...)
	}
	out, err := run(p.prog, p.src, &p.norm, vars)
	if err != nil {
		b = append(b, "<error: "...)
		b = append(b, err.(*Error).Msg...)
		return append(b, '>')
	}
	return appendValue(b, out)
}

// appendValue appends one rendered placeholder, cut to MaxPlaceholderOutput.
func appendValue(b []byte, v any) []byte {
	start := len(b)
	if s, ok := v.(string); ok {
		b = append(b, s...)
	} else {
		f := formatter{buf: b, limit: start + MaxPlaceholderOutput + utf8.UTFMax}
		f.value(v, 0, true)
		b = f.buf
	}
	if len(b)-start > MaxPlaceholderOutput {
		cut := start + MaxPlaceholderOutput
		for cut > start && !utf8.RuneStart(b[cut]) {
			cut--
		}
		b = append(b[:cut], "…"...)
	}
	return b
}
