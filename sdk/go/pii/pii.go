// Package pii owns the scrubbing of personal data and secrets from captured
// variables before anything leaves the process. It finds the guide's 13
// typed patterns (emails, card numbers, keys, tokens, passwords...) and
// replaces what it finds with typed markers such as [REDACTED:email], so that
// a snapshot still tells which kind of value was there.
//
// Scrubbing is on by default in the SDK. A Scrubber is built once from a
// Config and shared: it is safe for concurrent use, and a string with
// nothing to redact costs one scan and no allocation.
//
// Value patterns (email, ssn, credit_card, phone, aws_key, oauth_token,
// stripe_key, jwt, private_key, api_key) replace only the matching part of a
// longer string. Name rules (sensitive_name, password, and aws_secret for
// fields named like aws_secret_access_key) replace the whole value of a
// field whose name says it is secret.
//
// It does not walk values (package capture does and calls it for every
// string, map key and field name).
package pii

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Pattern is one kind of sensitive value and the marker that replaces it.
//
// If Regexp has capture groups named "value", the first of them that takes
// part in a match is replaced and the rest of the match is kept (so that
// "password=hunter2" becomes "password=[REDACTED:password]"); otherwise the
// whole match is replaced.
type Pattern struct {
	// Name is the pattern's type, as in the marker: "email".
	Name string
	// Regexp finds the value inside a string. It is nil for sensitive_name,
	// which applies to field names only.
	Regexp *regexp.Regexp
	// Marker replaces what Regexp matched: "[REDACTED:email]".
	Marker string

	pre    prefilter                                       // cheap test that the regexp may match
	valid  func(s string, start, end int) (int, int, bool) // narrows or rejects a match
	order  int                                             // application order among built-ins
	groups []int                                           // indexes of groups named "value"
}

// Config selects what a Scrubber redacts. The zero value scrubs with the 13
// built-in patterns.
type Config struct {
	// Disabled turns scrubbing off: captured values leave the process as
	// they are. Not recommended in production.
	Disabled bool
	// Custom patterns are applied before the built-in ones, each with its
	// own marker, as in the guide's `{ pattern: /CUSTOM-\d+/, marker:
	// '[REDACTED:custom_id]' }`.
	Custom []Pattern

	_ struct{}
}

// Scrubber redacts sensitive values. A nil *Scrubber redacts nothing. It is
// safe for concurrent use.
type Scrubber struct {
	disabled bool
	patterns []Pattern // in application order
}

// ErrInvalidPattern reports a custom pattern that cannot be used.
var ErrInvalidPattern = errors.New("invalid PII pattern")

// New builds a Scrubber from cfg. It fails when a custom pattern has no
// Regexp, no Marker, or a Regexp that matches the empty string.
func New(cfg Config) (*Scrubber, error) {
	s := &Scrubber{disabled: cfg.Disabled}
	for i, p := range cfg.Custom {
		name := p.Name
		if name == "" {
			name = "unnamed"
		}
		switch {
		case p.Regexp == nil:
			return nil, fmt.Errorf("pii: Custom[%d] (%s): %w: Regexp is nil", i, name, ErrInvalidPattern)
		case p.Marker == "":
			return nil, fmt.Errorf("pii: Custom[%d] (%s): %w: Marker is empty; use a marker such as [REDACTED:%s]", i, name, ErrInvalidPattern, name)
		case p.Regexp.MatchString(""):
			return nil, fmt.Errorf("pii: Custom[%d] (%s): %w: Regexp %q matches the empty string", i, name, ErrInvalidPattern, p.Regexp)
		}
		// A pattern taken from Builtin keeps its prefilter and validation;
		// one made by the caller has neither and always runs.
		p.groups = valueGroups(p.Regexp)
		s.patterns = append(s.patterns, p)
	}
	for _, p := range byOrder() {
		if p.Regexp != nil {
			s.patterns = append(s.patterns, p)
		}
	}
	return s, nil
}

// Default returns a Scrubber with the 13 built-in patterns.
func Default() *Scrubber {
	s, _ := New(Config{})
	return s
}

// Enabled reports whether s redacts anything.
func (s *Scrubber) Enabled() bool { return s != nil && !s.disabled }

// String returns str with every sensitive value found by the value patterns
// replaced by its marker. When nothing matches it returns str itself and
// allocates nothing.
func (s *Scrubber) String(str string) string {
	if s == nil || s.disabled || len(str) == 0 {
		return str
	}
	var f features
	f.scan(str)
	out := str
	for i := range s.patterns {
		p := &s.patterns[i]
		if !f.admits(p.pre, out) {
			continue
		}
		out = p.replace(out)
	}
	return out
}

// Field returns value scrubbed for a field, variable or map key called
// name: the whole value becomes a marker when the name is sensitive
// (password, api_key, sessionId, ...), otherwise String(value). An empty value
// stays empty: that a secret is unset is useful to know and reveals nothing.
func (s *Scrubber) Field(name, value string) string {
	if m := s.NameMarker(name); m != "" {
		if value == "" {
			return value
		}
		return m
	}
	return s.String(value)
}

// IsSensitiveName reports whether a field, variable or map key called name
// holds a secret whatever its value looks like.
func (s *Scrubber) IsSensitiveName(name string) bool {
	return s.NameMarker(name) != ""
}

// NameMarker returns the marker that replaces the whole value of a field
// called name, or "" when the name is not sensitive: [REDACTED:password] for
// password, passwd, pwd, pass; [REDACTED:aws_secret] for
// aws_secret_access_key and the like; [REDACTED:sensitive_name] for secret,
// token, api_key, auth, credentials, private_key, session_id, cookie...
// Names match case-insensitively, split on _ - . and camelCase.
func (s *Scrubber) NameMarker(name string) string {
	if s == nil || s.disabled {
		return ""
	}
	switch classifyName(name) {
	case namePassword:
		return markerPassword
	case nameAWSSecret:
		return markerAWSSecret
	case nameSensitive:
		return markerSensitiveName
	}
	return ""
}

// MarkerWithheld stands for a value derived from one that scrubbing
// redacts when what was derived cannot be shown: a comparison or a length
// of an email, say, in a logpoint message.
const MarkerWithheld = "[REDACTED]"

// HasMarker reports whether str holds a marker s writes: of a value
// pattern, built-in or custom, or of a sensitive name. It tells a scrubbed
// text that shows where something was redacted from one that was changed
// in another way.
func (s *Scrubber) HasMarker(str string) bool {
	if !s.Enabled() {
		return false
	}
	for _, m := range []string{markerSensitiveName, markerPassword, markerAWSSecret} {
		if strings.Contains(str, m) {
			return true
		}
	}
	for i := range s.patterns {
		if strings.Contains(str, s.patterns[i].Marker) {
			return true
		}
	}
	return false
}

// replace substitutes the marker for every valid match in s; s itself when
// there is none.
func (p *Pattern) replace(s string) string {
	matches := p.Regexp.FindAllStringSubmatchIndex(s, -1)
	if matches == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		start, end := m[0], m[1]
		for _, g := range p.groups {
			if 2*g+1 < len(m) && m[2*g] >= 0 {
				start, end = m[2*g], m[2*g+1]
				break
			}
		}
		if p.valid != nil {
			var ok bool
			if start, end, ok = p.valid(s, start, end); !ok {
				continue
			}
		}
		if start >= end || start < last {
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(s) + len(p.Marker))
		}
		b.WriteString(s[last:start])
		b.WriteString(p.Marker)
		last = end
	}
	if last == 0 && b.Len() == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// valueGroups returns the indexes of re's capture groups named "value".
func valueGroups(re *regexp.Regexp) []int {
	var groups []int
	for i, name := range re.SubexpNames() {
		if name == "value" {
			groups = append(groups, i)
		}
	}
	return groups
}
