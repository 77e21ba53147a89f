package pii

import (
	"strings"
	"testing"
)

func FuzzScrub(f *testing.F) {
	s := testScrubber(f)
	for _, file := range []string{"positives.txt", "fields.txt"} {
		for _, row := range corpus(f, file, 3) {
			f.Add(row[1])
		}
	}
	for _, row := range corpus(f, "negatives.txt", 1) {
		f.Add(row[0])
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := s.String(in)
		// Scrubbing is idempotent: markers are never matched again.
		if again := s.String(out); again != out {
			t.Fatalf("String is not idempotent on %q:\n once  %q\n twice %q", in, out, again)
		}
		if out != in && !strings.Contains(out, "[REDACTED:") {
			t.Fatalf("String(%q) = %q changed the value without a marker", in, out)
		}
		_ = s.Field(in, in)
		_ = s.IsSensitiveName(in)
	})
}
