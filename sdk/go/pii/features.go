package pii

import "strings"

// features is what one pass over a string learns about it, so that each
// pattern's prefilter can skip its regexp on strings that cannot match:
// most captured strings are short words, ids, numbers and timestamps, and a
// regexp costs microseconds where this pass costs nanoseconds.
type features struct {
	at, dash, dot, plus, underscore, space bool
	assign                                 bool   // '=' or ':'
	longest                                int    // longest run of token characters [A-Za-z0-9_+/=.~-]
	cardDigits                             int    // most digits in a run separated by single ' ' or '-' (cards, SSNs)
	phoneDigits                            int    // most digits in a run separated by up to two of " .-()"
	phoneGrouped                           int    // phoneDigits, of runs in three groups or more
	letters                                uint32 // bit i: the letter 'a'+i appears, in either case
}

func (f *features) scan(s string) {
	run, card, phone, seps, groups := 0, 0, 0, 0, 0
	glued := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if l := c | 0x20; l >= 'a' && l <= 'z' {
			f.letters |= 1 << (l - 'a')
			run++
			card, phone, seps, groups = 0, 0, 0, 0
			glued = false
			continue
		}
		if c >= '0' && c <= '9' {
			if i == 0 || !isDigit(s[i-1]) {
				groups++
				// Digits glued to a word (a716, v1, x86) start no number.
				if card == 0 && i > 0 && (isAlnum(s[i-1]) || s[i-1] == '_') {
					glued = true
				}
			}
			run++
			card++
			phone++
			seps = 0
			if !glued {
				f.cardDigits = max(f.cardDigits, card)
				f.phoneDigits = max(f.phoneDigits, phone)
				if groups >= 3 {
					f.phoneGrouped = max(f.phoneGrouped, phone)
				}
			}
			continue
		}
		// A single ' ' or '-' between digits keeps a card number going.
		if !((c == ' ' || c == '-') && i > 0 && isDigit(s[i-1]) && i+1 < len(s) && isDigit(s[i+1])) {
			card = 0
		}
		if (c == ' ' || c == '.' || c == '-' || c == '(' || c == ')') && seps < 2 {
			seps++
		} else {
			phone, seps, groups = 0, 0, 0
		}
		if card == 0 && phone == 0 {
			glued = false
		}
		switch {
		case c == '~', c == '/':
			run++
			continue
		case c == '_':
			f.underscore = true
			run++
			continue
		case c == '.':
			f.dot = true
			run++
			continue
		case c == '-':
			f.dash = true
			run++
			continue
		case c == '+':
			f.plus = true
			run++
			continue
		case c == '=':
			f.assign = true
			run++
			continue
		case c == ':':
			f.assign = true
		case c == '@':
			f.at = true
		case c == ' ' || c == '\t' || c == '\n':
			f.space = true
		}
		f.longest = max(f.longest, run)
		run = 0
	}
	f.longest = max(f.longest, run)
}

// has reports, from the letters seen, whether s may contain word (lower
// case), ignoring case: the cheap half of containsFold.
func (f *features) has(word string) bool {
	var need uint32
	for i := 0; i < len(word); i++ {
		if c := word[i]; c >= 'a' && c <= 'z' {
			need |= 1 << (c - 'a')
		}
	}
	return f.letters&need == need
}

// fold reports whether s contains word (lower case), ignoring ASCII case.
func (f *features) fold(s, word string) bool {
	return f.has(word) && containsFold(s, word)
}

// containsFold reports whether s contains substr, ignoring ASCII case;
// substr must be lower case. It does not allocate.
func containsFold(s, substr string) bool {
	n := len(substr)
	if n == 0 {
		return true
	}
	first, upper := substr[0], substr[0]
	if first >= 'a' && first <= 'z' {
		upper = first - 'a' + 'A'
	}
	for i := 0; i+n <= len(s); i++ {
		if c := s[i]; c != first && c != upper {
			continue
		}
		if hasPrefixFold(s[i:], substr) {
			return true
		}
	}
	return false
}

func hasPrefixFold(s, lowerPrefix string) bool {
	if len(s) < len(lowerPrefix) {
		return false
	}
	for j := 0; j < len(lowerPrefix); j++ {
		c := s[j]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lowerPrefix[j] {
			return false
		}
	}
	return true
}

func containsAny(s string, substrs ...string) bool {
	for _, sub := range substrs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

// prefilter names the test that tells whether a built-in pattern's regexp
// may match a string.
type prefilter uint8

const (
	preNone prefilter = iota // custom patterns: always run
	preEmail
	preSSN
	preCard
	prePhone
	preAWSKey
	preAWSSecret
	preOAuth
	preStripe
	preJWT
	prePrivateKey
	preAPIKey
	prePassword
)

// admits reports whether the pattern with prefilter p may match s, whose
// features f are.
func (f *features) admits(p prefilter, s string) bool {
	switch p {
	case preEmail:
		return f.at && f.dot
	case preSSN:
		return f.dash && f.cardDigits >= 9
	case preCard:
		return f.cardDigits >= 13
	case prePhone:
		return f.phoneGrouped >= 10 || (f.plus && f.phoneDigits >= 8)
	case preAWSKey:
		return f.longest >= 20 && containsAny(s, "AKIA", "ASIA")
	case preAWSSecret:
		return f.longest >= 40 && (f.fold(s, "aws") || f.fold(s, "secret"))
	case preOAuth:
		return f.longest >= 8 && ((f.dot && strings.Contains(s, "ya29.")) ||
			(f.underscore && strings.Contains(s, "gh")) || (f.dash && strings.Contains(s, "xox")) ||
			(f.space && f.fold(s, "bearer")) || (f.assign && f.fold(s, "token")))
	case preStripe:
		return f.underscore && f.longest >= 18 && containsAny(s, "_live_", "_test_")
	case preJWT:
		return f.dot && f.longest >= 20 && strings.Contains(s, "eyJ")
	case prePrivateKey:
		return f.dash && strings.Contains(s, "-----BEGIN")
	case preAPIKey:
		return f.longest >= 4 && ((f.longest >= 39 && strings.Contains(s, "AIza")) || (f.dot && strings.Contains(s, "SG.")) ||
			(f.assign && (f.fold(s, "key") || f.fold(s, "token") || f.fold(s, "secret"))))
	case prePassword:
		return f.assign && (f.fold(s, "pass") || f.fold(s, "pwd") || (f.at && strings.Contains(s, "://")))
	}
	return true
}
