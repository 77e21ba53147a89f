package protocol_test

import (
	"testing"
	"time"

	"github.com/tracekit-oss/tracekit/sdk/go/protocol"
)

func TestRecordID(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 12, 3, 123456789, time.UTC)
	a, b := protocol.NewRecordID(at), protocol.NewRecordID(at)
	if a == b || len(a) != 24 {
		t.Fatalf("IDs %q %q", a, b)
	}
	if got, ok := protocol.RecordIDTime(a); !ok || !got.Equal(at) {
		t.Errorf("RecordIDTime(%q) = %v, %v; want %v", a, got, ok, at)
	}
	for _, bad := range []string{"", "nonsense", "0123456789ABCDEF01234567", "0123456789abcdef0123456", "0123456789abcdef012345678", "0123456789abcdef0123456g"} {
		if _, ok := protocol.RecordIDTime(bad); ok {
			t.Errorf("RecordIDTime(%q) accepted", bad)
		}
	}
}
