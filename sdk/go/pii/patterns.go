package pii

import (
	"regexp"
	"slices"
	"strings"
)

const (
	markerSensitiveName = "[REDACTED:sensitive_name]"
	markerPassword      = "[REDACTED:password]"
	markerAWSSecret     = "[REDACTED:aws_secret]"
)

// builtins are the guide's 13 patterns, in the guide's order. Their order
// field is the order in which String applies them: specific shapes first
// (a key block, a JWT, prefixed keys), so that a generic pattern applied
// later never sees them, and phone numbers last, after card numbers and
// SSNs have been taken out.
var builtins = []Pattern{
	{
		Name:   "email",
		Marker: "[REDACTED:email]",
		Regexp: regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}\b`),
		pre:    preEmail,
		order:  9,
	},
	{
		Name:   "ssn",
		Marker: "[REDACTED:ssn]",
		Regexp: regexp.MustCompile(`\b\d{3}-\d{2}-\d{4}\b`),
		pre:    preSSN,
		valid:  validSSN,
		order:  11,
	},
	{
		Name:   "credit_card",
		Marker: "[REDACTED:credit_card]",
		Regexp: regexp.MustCompile(`\b\d(?:[ \-]?\d){12,18}\b`),
		pre:    preCard,
		valid:  validCard,
		order:  10,
	},
	{
		Name:   "phone",
		Marker: "[REDACTED:phone]",
		Regexp: regexp.MustCompile(
			// International, E.164 with optional separators: +44 20 7946 0958.
			`\+\d{1,3}[ .\-]?(?:\(\d{1,4}\)[ .\-]?)?\d{1,4}(?:[ .\-]?\d{1,4}){1,5}` +
				// North American: (555) 123-4567, 555-123-4567, 1-555-123-4567.
				`|(?:\b1[ .\-])?(?:\(\d{3}\) ?|\b\d{3}[ .\-])\d{3}[ .\-]\d{4}\b`),
		pre:   prePhone,
		valid: validPhone,
		order: 12,
	},
	{
		Name:   "aws_key",
		Marker: "[REDACTED:aws_key]",
		Regexp: regexp.MustCompile(`\b(?:AKIA|ASIA)[A-Z0-9]{16}\b`),
		pre:    preAWSKey,
		order:  3,
	},
	{
		// An AWS secret access key is 40 characters of base64 with nothing
		// to recognise it by, like many hashes. It is redacted only as the
		// value of something named aws... or ...secret... ("aws_secret_access_key=",
		// "AWS_SECRET: ", "secret": "..."), or of a field so named (see
		// NameMarker); and a value in one case only (a hex git SHA, a
		// lower-case hash) is not taken for one.
		Name:   "aws_secret",
		Marker: markerAWSSecret,
		Regexp: regexp.MustCompile(`(?i:aws|secret)[A-Za-z0-9_.\-]{0,40}["']?(?:\s*[:=]\s*|\s+)["']?(?P<value>[A-Za-z0-9/+]{40})`),
		pre:    preAWSSecret,
		valid:  validAWSSecret,
		order:  6,
	},
	{
		Name:   "oauth_token",
		Marker: "[REDACTED:oauth_token]",
		Regexp: regexp.MustCompile(
			`\bya29\.[0-9A-Za-z_\-]{20,}` + // Google
				`|\bgh[opusr]_[A-Za-z0-9]{36,}\b` + // GitHub
				`|\bgithub_pat_[A-Za-z0-9_]{40,}\b` +
				`|\bxox[abprs]-[A-Za-z0-9\-]{10,}` + // Slack
				`|(?i:\bbearer)\s+(?P<value>[A-Za-z0-9\-._~+/]{8,}=*)` +
				`|(?i:(?:^|[^A-Za-z0-9])(?:access|refresh|id)[_\-]?token)["']?\s*[:=]\s*["']?(?P<value>[A-Za-z0-9\-._~+/]{8,}=*)`),
		pre:   preOAuth,
		valid: validToken,
		order: 5,
	},
	{
		Name:   "stripe_key",
		Marker: "[REDACTED:stripe_key]",
		Regexp: regexp.MustCompile(`\b(?:sk|rk|pk)_(?:live|test)_[0-9A-Za-z]{10,}\b`),
		pre:    preStripe,
		order:  4,
	},
	{
		Name:   "sensitive_name",
		Marker: markerSensitiveName,
		// Applies to names, not values: see NameMarker.
	},
	{
		Name:   "jwt",
		Marker: "[REDACTED:jwt]",
		Regexp: regexp.MustCompile(`\beyJ[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]{6,}\.[A-Za-z0-9_\-]*`),
		pre:    preJWT,
		order:  2,
	},
	{
		// A key cut short by the capture's string limit has no END line:
		// what follows BEGIN is redacted to the end of the string.
		Name:   "private_key",
		Marker: "[REDACTED:private_key]",
		Regexp: regexp.MustCompile(`-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)`),
		pre:    prePrivateKey,
		order:  1,
	},
	{
		Name:   "api_key",
		Marker: "[REDACTED:api_key]",
		Regexp: regexp.MustCompile(
			`\bAIza[0-9A-Za-z_\-]{35}\b` + // Google API key
				`|\bSG\.[A-Za-z0-9_\-]{16,32}\.[A-Za-z0-9_\-]{16,64}\b` + // SendGrid
				// The value of something named like a key or a secret.
				`|(?i:(?:^|[^A-Za-z0-9])(?:x[_\-]?)?(?:api[_\-]?(?:key|token|secret)|apikey|secret[_\-]?key|access[_\-]?key(?:[_\-]?id)?|client[_\-]?secret|app[_\-]?(?:key|secret)|private[_\-]?token|auth[_\-]?(?:token|key)|secret|token))` +
				`["']?\s*[:=]\s*["']?(?P<value>[A-Za-z0-9_\-./+=~]{4,})`),
		pre:   preAPIKey,
		valid: validAPIKey,
		order: 8,
	},
	{
		Name:   "password",
		Marker: markerPassword,
		Regexp: regexp.MustCompile(
			`(?i:pass(?:word|wd|phrase)?|pwd)["']?\s*[:=]\s*(?:"(?P<value>(?:[^"\\\n]|\\.)+)"|'(?P<value>(?:[^'\\\n]|\\.)+)'|(?P<value>[^\s"'&,;\[\]{}]+))` +
				// The password in a URL: postgres://app:s3cret@db:5432/app.
				`|\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]+:(?P<value>[^\s/@]+)@`),
		pre:   prePassword,
		valid: validPassword,
		order: 7,
	},
}

// Builtin returns the 13 built-in patterns in the guide's order. The
// sensitive_name pattern has no Regexp: it applies to field names.
func Builtin() []Pattern {
	return slices.Clone(builtins)
}

// byOrder returns the built-in patterns in application order.
func byOrder() []Pattern {
	ps := slices.Clone(builtins)
	slices.SortFunc(ps, func(a, b Pattern) int { return a.order - b.order })
	for i := range ps {
		if ps[i].Regexp != nil {
			ps[i].groups = valueGroups(ps[i].Regexp)
		}
	}
	return ps
}

// validSSN rejects numbers that cannot be SSNs (area 000, 666 or 9xx; group
// 00; serial 0000) and dashed runs that are part of something longer.
func validSSN(s string, start, end int) (int, int, bool) {
	if (start > 0 && (s[start-1] == '-' || s[start-1] == '.')) || (end < len(s) && (s[end] == '-' || (s[end] == '.' && end+1 < len(s) && isDigit(s[end+1])))) {
		return 0, 0, false
	}
	area, group, serial := s[start:start+3], s[start+4:start+6], s[start+7:end]
	if area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000" {
		return 0, 0, false
	}
	return start, end, true
}

// validCard accepts 13 to 19 digits that start like a card network's
// numbers (2, 3, 4, 5 or 6) and pass the Luhn check. When a match runs into
// following digit groups ("4111 1111 1111 1111 2024"), shorter prefixes
// ending at a separator are tried.
func validCard(s string, start, end int) (int, int, bool) {
	if start > 0 && (s[start-1] == '-' || s[start-1] == '.' || s[start-1] == '+') {
		return 0, 0, false
	}
	for e := end; e > start; {
		if digitsOK(s[start:e]) {
			return start, e, true
		}
		// Back off to the end of the previous group of digits.
		for e > start && isDigit(s[e-1]) {
			e--
		}
		for e > start && !isDigit(s[e-1]) {
			e--
		}
	}
	return 0, 0, false
}

func digitsOK(num string) bool {
	var d [19]byte
	n := 0
	for i := 0; i < len(num); i++ {
		if isDigit(num[i]) {
			if n == len(d) {
				return false
			}
			d[n] = num[i] - '0'
			n++
		}
	}
	if n < 13 || d[0] < 2 || d[0] > 6 {
		return false
	}
	if n == len(num) && allSame(d[:n]) {
		return false
	}
	sum := 0
	for i := 0; i < n; i++ {
		v := int(d[n-1-i])
		if i%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

func allSame(d []byte) bool {
	for _, x := range d[1:] {
		if x != d[0] {
			return false
		}
	}
	return true
}

// validPhone keeps phone numbers apart from the digit groups they resemble:
// it wants 8 to 15 digits (E.164), nothing glued on either side that would
// make it part of a longer token (a version, an address, a date or an id),
// and separators or a leading + (a bare run of digits is an id, not a
// phone).
func validPhone(s string, start, end int) (int, int, bool) {
	if start > 0 {
		c := s[start-1]
		bad := isAlnum(c) || c == '_' || c == '+'
		if s[start] != '+' { // "tel:+33 1 23 45 67 89" is fine, "v10.555.123.4567" is not
			bad = bad || c == '-' || c == '.' || c == '/' || c == ':'
		}
		if bad {
			return 0, 0, false
		}
	}
	if end < len(s) {
		c := s[end]
		if isAlnum(c) || c == '-' || c == '/' || c == ':' || c == '_' || (c == '.' && end+1 < len(s) && isDigit(s[end+1])) {
			return 0, 0, false
		}
	}
	digits, groups := 0, 0
	inDigits := false
	for i := start; i < end; i++ {
		if isDigit(s[i]) {
			digits++
			if !inDigits {
				groups++
			}
			inDigits = true
		} else {
			inDigits = false
		}
	}
	if digits < 8 || digits > 15 {
		return 0, 0, false
	}
	if s[start] != '+' && groups < 3 {
		return 0, 0, false
	}
	return start, end, true
}

// validAWSSecret wants the 40 characters to end there and to mix upper and
// lower case, as base64 of random bytes does and hex digests never do.
func validAWSSecret(s string, start, end int) (int, int, bool) {
	if end < len(s) && (isAlnum(s[end]) || s[end] == '/' || s[end] == '+') {
		return 0, 0, false
	}
	var upper, lower bool
	for i := start; i < end; i++ {
		c := s[i]
		upper = upper || (c >= 'A' && c <= 'Z')
		lower = lower || (c >= 'a' && c <= 'z')
	}
	return start, end, upper && lower
}

// validToken rejects words after "Bearer" that are prose, not tokens: a
// token has a digit, or is long and of mixed case.
func validToken(s string, start, end int) (int, int, bool) {
	return start, end, looksRandom(s[start:end])
}

// validAPIKey accepts any value of a name that says key or secret
// (api_key, client_secret, secret: changeme), but after a bare "token" only
// a value that looks random: "token: required" is prose.
func validAPIKey(s string, start, end int) (int, int, bool) {
	v := s[start:end]
	if k := strings.LastIndexAny(s[:start], "=:"); k >= 0 && hasSuffixFold(strings.TrimRight(s[:k], "\"' \t"), "token") {
		return start, end, len(v) >= 8 && looksRandom(v)
	}
	return start, end, true
}

func looksRandom(v string) bool {
	var digit, upper, lower bool
	for i := 0; i < len(v); i++ {
		c := v[i]
		digit = digit || isDigit(c)
		upper = upper || (c >= 'A' && c <= 'Z')
		lower = lower || (c >= 'a' && c <= 'z')
	}
	return (digit && (upper || lower)) || (len(v) >= 20 && upper && lower)
}

// validPassword keeps "pass" from matching inside words (bypass=, compass:)
// and the shell's PWD=/home/app from being taken for a password.
func validPassword(s string, start, end int) (int, int, bool) {
	k := strings.LastIndexAny(s[:start], "=:")
	if k < 0 {
		return start, end, true
	}
	kw := strings.TrimRight(s[:k], "\"' \t")
	if s[start] == '/' && hasSuffixFold(kw, "pwd") {
		return 0, 0, false
	}
	if n := len(kw); n > 4 && hasSuffixFold(kw, "pass") {
		before := kw[n-5]
		camel := kw[n-4] == 'P' && before >= 'a' && before <= 'z'
		if before|0x20 >= 'a' && before|0x20 <= 'z' && !camel {
			return 0, 0, false
		}
	}
	return start, end, true
}

func hasSuffixFold(s, lowerSuffix string) bool {
	return len(s) >= len(lowerSuffix) && hasPrefixFold(s[len(s)-len(lowerSuffix):], lowerSuffix)
}
