package pii

import (
	"bufio"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
)

// corpus reads a testdata file of tab-separated fields, skipping blank lines
// and # comments; \n and \t in fields are escapes.
func corpus(t testing.TB, name string, fields int) [][]string {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	unescape := strings.NewReplacer(`\n`, "\n", `\t`, "\t")
	var rows [][]string
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		row := strings.Split(text, "\t")
		if len(row) != fields {
			t.Fatalf("%s:%d: %d fields, want %d", name, line, len(row), fields)
		}
		for i := range row {
			row[i] = unescape.Replace(row[i])
		}
		rows = append(rows, row)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

func testScrubber(t testing.TB) *Scrubber {
	t.Helper()
	s, err := New(Config{Custom: []Pattern{
		{Name: "custom_id", Regexp: regexp.MustCompile(`CUSTOM-\d+`), Marker: "[REDACTED:custom_id]"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPositives(t *testing.T) {
	s := testScrubber(t)
	seen := map[string]int{}
	for _, row := range corpus(t, "positives.txt", 3) {
		kind, in, want := row[0], row[1], row[2]
		seen[kind]++
		if got := s.String(in); got != want {
			t.Errorf("%s: String(%q)\n got %q\nwant %q", kind, in, got, want)
		}
		if !strings.Contains(want, "[REDACTED:"+kind+"]") {
			t.Errorf("%s: expected output %q has no %s marker", kind, want, kind)
		}
	}
	for _, p := range Builtin() {
		if p.Regexp != nil && seen[p.Name] < 4 {
			t.Errorf("corpus has %d positives for %s, want at least 4", seen[p.Name], p.Name)
		}
	}
}

func TestNegatives(t *testing.T) {
	s := testScrubber(t)
	for _, row := range corpus(t, "negatives.txt", 1) {
		if got := s.String(row[0]); got != row[0] {
			t.Errorf("String(%q) = %q, want it untouched", row[0], got)
		}
		// The word "password" in prose is not a password value, whatever
		// the field.
		if got := s.Field("message", row[0]); got != row[0] {
			t.Errorf("Field(message, %q) = %q, want it untouched", row[0], got)
		}
	}
}

func TestFields(t *testing.T) {
	s := testScrubber(t)
	for _, row := range corpus(t, "fields.txt", 3) {
		name, value, want := row[0], row[1], row[2]
		if got := s.Field(name, value); got != want {
			t.Errorf("Field(%q, %q) = %q, want %q", name, value, got, want)
		}
		sensitive := want == "[REDACTED:password]" || want == "[REDACTED:sensitive_name]" || want == "[REDACTED:aws_secret]"
		if got := s.IsSensitiveName(name); value != "" && got != sensitive {
			t.Errorf("IsSensitiveName(%q) = %v, want %v", name, got, sensitive)
		}
	}
}

func TestBuiltin(t *testing.T) {
	want := []string{
		"email", "ssn", "credit_card", "phone", "aws_key", "aws_secret", "oauth_token",
		"stripe_key", "sensitive_name", "jwt", "private_key", "api_key", "password",
	}
	got := Builtin()
	if len(got) != len(want) {
		t.Fatalf("Builtin() has %d patterns, want %d", len(got), len(want))
	}
	for i, p := range got {
		if p.Name != want[i] || p.Marker != "[REDACTED:"+want[i]+"]" {
			t.Errorf("Builtin()[%d] = %s %s, want %s", i, p.Name, p.Marker, want[i])
		}
		if (p.Regexp == nil) != (p.Name == "sensitive_name") {
			t.Errorf("Builtin()[%d] %s: Regexp = %v", i, p.Name, p.Regexp)
		}
	}
	got[0].Name = "changed"
	if Builtin()[0].Name != "email" {
		t.Fatal("Builtin() shares its slice with the caller")
	}
}

func TestDisabledAndNil(t *testing.T) {
	off, err := New(Config{Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	var nilScrubber *Scrubber
	for _, s := range []*Scrubber{off, nilScrubber} {
		if got := s.String("jane@example.com"); got != "jane@example.com" {
			t.Errorf("disabled String = %q", got)
		}
		if got := s.Field("password", "hunter2"); got != "hunter2" {
			t.Errorf("disabled Field = %q", got)
		}
		if s.IsSensitiveName("password") || s.Enabled() {
			t.Error("disabled scrubber reports sensitive names or Enabled")
		}
	}
	if !Default().Enabled() {
		t.Error("Default() is not enabled")
	}
}

func TestCustomPatterns(t *testing.T) {
	f := func(p Pattern, in, want string) {
		t.Helper()
		s, err := New(Config{Custom: []Pattern{p}})
		if err != nil {
			t.Fatal(err)
		}
		if got := s.String(in); got != want {
			t.Fatalf("String(%q) = %q, want %q", in, got, want)
		}
	}
	id := regexp.MustCompile(`CUSTOM-\d+`)
	f(Pattern{Name: "custom_id", Regexp: id, Marker: "[REDACTED:custom_id]"}, "a CUSTOM-1 b CUSTOM-22", "a [REDACTED:custom_id] b [REDACTED:custom_id]")
	// A group named value keeps the rest of the match.
	f(Pattern{Name: "badge", Regexp: regexp.MustCompile(`badge#(?P<value>\d{4,})`), Marker: "[REDACTED:badge]"}, "badge#12345 ok", "badge#[REDACTED:badge] ok")
	// Custom patterns run first; the built-ins still run after them.
	f(Pattern{Name: "custom_id", Regexp: id, Marker: "[X]"}, "CUSTOM-7 jane@example.com", "[X] [REDACTED:email]")

	errf := func(p Pattern, part string) {
		t.Helper()
		_, err := New(Config{Custom: []Pattern{p}})
		if !errors.Is(err, ErrInvalidPattern) || !strings.Contains(err.Error(), part) {
			t.Fatalf("New(%+v) error = %v, want ErrInvalidPattern containing %q", p, err, part)
		}
	}
	errf(Pattern{Name: "x", Marker: "[X]"}, "Regexp is nil")
	errf(Pattern{Name: "x", Regexp: id}, "Marker is empty")
	errf(Pattern{Name: "x", Regexp: regexp.MustCompile(`\d*`), Marker: "[X]"}, "matches the empty string")
}

func TestCleanStringIsReturnedAsIs(t *testing.T) {
	s := Default()
	for _, in := range []string{"order 100234", "2024-01-15T10:30:00Z", "password reset requested", strings.Repeat("abc ", 100)} {
		allocs := testing.AllocsPerRun(100, func() {
			if out := s.String(in); out != in {
				t.Fatalf("String(%q) changed it", in)
			}
		})
		if allocs != 0 {
			t.Errorf("String(%q) allocates %v times, want 0", in, allocs)
		}
	}
}

func TestClassifyName(t *testing.T) {
	f := func(name string, want nameClass) {
		t.Helper()
		if got := classifyName(name); got != want {
			t.Fatalf("classifyName(%q) = %d, want %d", name, got, want)
		}
	}
	f("", nameNone)
	f("_", nameNone)
	f("HTTPAuthHeader", nameSensitive)
	f("userAPIKey", nameSensitive)
	f("my.session.id", nameSensitive)
	f(strings.Repeat("x", 300)+"password", nameNone) // beyond maxNameLen: not read
	f("PASSWORD", namePassword)
	f("aws-secret", nameAWSSecret)
	f("pass", namePassword)
	f("bypass", nameNone)
}

func TestHasMarker(t *testing.T) {
	custom, err := New(Config{Custom: []Pattern{{Name: "badge", Regexp: regexp.MustCompile(`B-\d+`), Marker: "<badge>"}}})
	if err != nil {
		t.Fatal(err)
	}
	off, _ := New(Config{Disabled: true})
	f := func(s *Scrubber, str string, want bool) {
		t.Helper()
		if got := s.HasMarker(str); got != want {
			t.Fatalf("HasMarker(%q) = %v, want %v", str, got, want)
		}
	}
	f(Default(), "by [REDACTED:email]", true)
	f(Default(), `{"k":"[REDACTED:password]"}`, true)
	f(Default(), "[REDACTED:sensitive_name]", true)
	f(Default(), "[REDACTED:aws_secret]", true)
	f(Default(), "regular", false)
	f(Default(), "[REDACTED:EMAIL]", false) // changed by something else than the scrubber
	f(Default(), MarkerWithheld, false)
	f(custom, "id <badge>", true)
	f(custom, "[REDACTED:jwt]", true)
	f(off, "[REDACTED:email]", false)
	f(nil, "[REDACTED:email]", false)
}
