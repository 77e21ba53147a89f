package tracetree

import (
	"encoding/binary"

	"github.com/tracekit-oss/tracekit/internal/telemetry"
)

// Stored is stored spans as Build reads them. IDs compare as big-endian
// numbers, the order of their hex form, as every waterfall compares them,
// so that siblings that start together are in the order the waterfalls
// show.
type Stored []telemetry.Span

var _ Spans[uint64] = Stored(nil)

// Len is the number of spans.
func (t Stored) Len() int { return len(t) }

// ID is span i's ID as a number.
func (t Stored) ID(i int) uint64 { return binary.BigEndian.Uint64(t[i].SpanID[:]) }

// Start is span i's start time.
func (t Stored) Start(i int) int64 { return t[i].StartUnixNano }

// Parent is span i's parent ID, and whether it names one.
func (t Stored) Parent(i int) (uint64, bool) {
	p := t[i].ParentSpanID
	return binary.BigEndian.Uint64(p[:]), p.IsValid()
}
