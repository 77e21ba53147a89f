package ingest

import (
	"errors"
	"testing"

	"github.com/tracekit-oss/tracekit/internal/testsupport"
)

// TestPrescanCoversDeprecatedScopeSpans: pdata decodes the spans of the
// deprecated field 1000 of ResourceSpans, so the scan bounds their values'
// depth and counts them like the others. Unscanned, a value nested a
// million deep there reached pdata's recursive decoder.
func TestPrescanCoversDeprecatedScopeSpans(t *testing.T) {
	body := testsupport.NestedOTLPDeprecated(40)
	if _, err := scanProto(body, scanLimits{maxValueDepth: 32, maxSpans: 10}); !errors.Is(err, errTooDeep) {
		t.Fatalf("a value 40 deep in the deprecated scope spans: %v, want errTooDeep", err)
	}
	if _, err := scanProto(body, scanLimits{maxValueDepth: 64, maxSpans: 0}); !errors.Is(err, errTooManySpans) {
		t.Fatalf("a span in the deprecated scope spans over a limit of 0: %v, want errTooManySpans", err)
	}
}
