package store

import (
	"cmp"
	"encoding/binary"
	"slices"
	"time"
)

// SketchDelta is a DurationSketch being summed from a few durations at a
// time, as a write of spans sums its batch's into each row it adds to. It
// keeps the buckets as a list, sorted and summed only when encoded: a
// row of a batch sees a handful of durations, for which a DenseSketch
// (an array over the buckets between the shortest and the longest, 500
// for 1 to 200 ms) or a map would allocate far more. Its encoding is
// DurationSketch's. The zero value is ready to use.
type SketchDelta struct {
	zero    int64
	buckets []sketchBucket // unsorted; a bucket may repeat
	// summed is len(buckets) after they were last summed (compact).
	summed int
}

// compactSlack is how many bucket entries past twice those last summed a
// Merge lets a delta hold before it sums them again: a delta that sums
// many writes' (the RED series pending a flush) stays a few KiB, and the
// sort costs amortized O(log n) per entry.
const compactSlack = 1024

type sketchBucket struct {
	k int32
	n int64
}

// AddN records n durations d; a negative n takes back durations added
// before.
func (s *SketchDelta) AddN(d time.Duration, n int64) {
	if d <= 0 {
		s.zero += n
		return
	}
	s.buckets = append(s.buckets, sketchBucket{sketchIndex(d), n})
}

// Merge adds every duration recorded in o.
func (s *SketchDelta) Merge(o *SketchDelta) {
	s.zero += o.zero
	s.buckets = append(s.buckets, o.buckets...)
	if len(s.buckets) > 2*s.summed+compactSlack {
		s.compact()
	}
}

// compact sorts the buckets and sums those that repeat, in place.
func (s *SketchDelta) compact() {
	bs := s.buckets
	slices.SortFunc(bs, func(a, c sketchBucket) int { return cmp.Compare(a.k, c.k) })
	out := bs[:0]
	for i := 0; i < len(bs); {
		sum := bs[i]
		for i++; i < len(bs) && bs[i].k == sum.k; i++ {
			sum.n += bs[i].n
		}
		if sum.n != 0 {
			out = append(out, sum)
		}
	}
	s.buckets, s.summed = out, len(out)
}

// AppendBinary appends the encoding DurationSketch.AppendBinary writes. It
// sorts and sums the buckets in place first.
func (s *SketchDelta) AppendBinary(b []byte) []byte {
	s.compact()
	out := s.buckets
	b = binary.AppendVarint(b, s.zero)
	b = binary.AppendUvarint(b, uint64(len(out)))
	prev := int32(0)
	for _, c := range out {
		b = binary.AppendVarint(b, int64(c.k-prev))
		b = binary.AppendVarint(b, c.n)
		prev = c.k
	}
	return b
}
