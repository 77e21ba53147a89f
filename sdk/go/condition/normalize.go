package condition

import (
	"unicode"
	"unicode/utf8"
)

// normalized is a condition or placeholder rewritten into expr syntax, with a
// map from every byte of the rewrite back to the byte of the source it came
// from, so that errors point at what the user typed.
type normalized struct {
	out string
	pos []int // pos[i] is the source offset of out[i]; pos[len(out)] is len(src)
}

// srcOffset maps a rune offset in out (expr reports runes) to a byte offset in
// the source.
func (n *normalized) srcOffset(runeOff int) int {
	b := 0
	for i := 0; i < runeOff && b < len(n.out); i++ {
		_, size := utf8.DecodeRuneInString(n.out[b:])
		b += size
	}
	if b > len(n.out) {
		b = len(n.out)
	}
	return n.pos[b]
}

// operatorWords are identifiers that expr treats as operators: after them a
// '[' opens an array literal, not an index.
var operatorWords = map[string]bool{
	"and": true, "or": true, "not": true, "in": true, "matches": true,
	"contains": true, "startsWith": true, "endsWith": true,
	"if": true, "else": true, "let": true,
}

// rewrites maps the spellings of other SDK languages to expr's.
var rewrites = map[string]string{
	"null":      "nil", // JavaScript, Java, PHP
	"undefined": "nil", // JavaScript
	"None":      "nil", // Python
	"NULL":      "nil", // PHP, SQL
	"True":      "true",
	"False":     "false",
}

// normalize rewrites the source so that conditions written the way the
// TraceKit guide writes them for each SDK language compile in expr:
//
//	===, !==                 -> ==, !=          (JavaScript)
//	null, undefined, None    -> nil
//	True, False              -> true, false     (Python)
//	is not, is               -> !=, ==          (Python, as in "err is not None")
//	a.b, a[i]                -> a?.b, a?.[i]    (a missing value reads as nil)
//
// String literals are copied byte for byte: a tiny tokenizer that knows quotes
// and escapes walks the source, so "None" inside quotes stays "None".
func normalize(src string) normalized {
	out := make([]byte, 0, len(src)+len(src)/4+8)
	pos := make([]int, 0, cap(out)+1)
	emit := func(s string, at int) {
		out = append(out, s...)
		for range len(s) {
			pos = append(pos, at)
		}
	}
	copySrc := func(from, to int) {
		out = append(out, src[from:to]...)
		for k := from; k < to; k++ {
			pos = append(pos, k)
		}
	}

	// operand is true when the last token ends an operand, so that '.' and '['
	// that follow it are member access and indexing.
	operand := false
	// member is true right after '.' or '?.': the next identifier is a field
	// name and is never rewritten.
	member := false

	i := 0
	for i < len(src) {
		c := src[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			copySrc(i, i+1)
			i++
			continue

		case c == '"' || c == '\'':
			j := skipQuoted(src, i)
			copySrc(i, j)
			i = j
			operand, member = true, false

		case c == '`':
			j := i + 1
			for j < len(src) && src[j] != '`' {
				j++
			}
			if j < len(src) {
				j++
			}
			copySrc(i, j)
			i = j
			operand, member = true, false

		case c >= '0' && c <= '9':
			j := skipNumber(src, i)
			copySrc(i, j)
			i = j
			operand, member = true, false

		case isIdentStart(src, i):
			j := skipIdent(src, i)
			word := src[i:j]
			switch {
			case member:
				copySrc(i, j)
				operand = true
			case word == "is":
				// Python identity tests: "is not" -> "!=", "is" -> "==".
				k := skipSpace(src, j)
				if next := skipIdent(src, k); k < len(src) && isIdentStart(src, k) && src[k:next] == "not" {
					emit("!=", i)
					j = next
				} else {
					emit("==", i)
				}
				operand = false
			case rewrites[word] != "":
				emit(rewrites[word], i)
				operand = true
			default:
				copySrc(i, j)
				operand = !operatorWords[word]
			}
			member = false
			i = j

		case c == '?' && i+1 < len(src) && src[i+1] == '.':
			copySrc(i, i+2)
			i += 2
			operand, member = false, true

		case c == '.':
			if i+1 < len(src) && src[i+1] == '.' { // range operator
				copySrc(i, i+2)
				i += 2
				operand, member = false, false
				continue
			}
			if operand {
				emit("?.", i)
				member = true
			} else {
				copySrc(i, i+1)
			}
			i++
			operand = false

		case c == '[':
			if operand {
				emit("?.", i)
			}
			copySrc(i, i+1)
			i++
			operand, member = false, false

		case (c == '=' || c == '!') && i+2 < len(src) && src[i+1] == '=' && src[i+2] == '=':
			// === and !== (JavaScript) are == and != on captured values.
			copySrc(i, i+2)
			i += 3
			operand, member = false, false

		default:
			size := 1
			if c >= utf8.RuneSelf {
				_, size = utf8.DecodeRuneInString(src[i:])
			}
			copySrc(i, i+size)
			i += size
			operand = c == ')' || c == ']' || c == '}'
			member = false
		}
	}
	pos = append(pos, len(src))
	return normalized{out: string(out), pos: pos}
}

// skipQuoted returns the offset just past the string literal that starts at
// src[i], honouring backslash escapes; an unterminated literal runs to the
// end and expr reports it.
func skipQuoted(src string, i int) int {
	q := src[i]
	j := i + 1
	for j < len(src) {
		switch src[j] {
		case '\\':
			j += 2
			continue
		case q:
			return j + 1
		}
		j++
	}
	return len(src)
}

// skipNumber returns the offset past the number literal at src[i]: decimal
// with optional fraction and exponent, or 0x/0o/0b with underscores. A '.'
// followed by another '.' is a range, not a fraction.
func skipNumber(src string, i int) int {
	j := i
	if src[j] == '0' && j+1 < len(src) && (src[j+1]|0x20 == 'x' || src[j+1]|0x20 == 'o' || src[j+1]|0x20 == 'b') {
		j += 2
		for j < len(src) && (isHex(src[j]) || src[j] == '_') {
			j++
		}
		return j
	}
	for j < len(src) && (isDigit(src[j]) || src[j] == '_') {
		j++
	}
	if j+1 < len(src) && src[j] == '.' && isDigit(src[j+1]) {
		j++
		for j < len(src) && (isDigit(src[j]) || src[j] == '_') {
			j++
		}
	}
	if j < len(src) && (src[j] == 'e' || src[j] == 'E') {
		k := j + 1
		if k < len(src) && (src[k] == '+' || src[k] == '-') {
			k++
		}
		if k < len(src) && isDigit(src[k]) {
			for k < len(src) && isDigit(src[k]) {
				k++
			}
			j = k
		}
	}
	return j
}

func skipIdent(src string, i int) int {
	j := i
	for j < len(src) {
		r, size := rune(src[j]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(src[j:])
		}
		if !(r == '_' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			break
		}
		j += size
	}
	return j
}

func isIdentStart(src string, i int) bool {
	if i >= len(src) {
		return false
	}
	r := rune(src[i])
	if r >= utf8.RuneSelf {
		r, _ = utf8.DecodeRuneInString(src[i:])
	}
	return r == '_' || r == '$' || unicode.IsLetter(r)
}

func skipSpace(src string, i int) int {
	for i < len(src) && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
		i++
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isHex(c byte) bool {
	return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f')
}
