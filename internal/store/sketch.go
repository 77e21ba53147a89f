package store

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"time"
)

// The methods below let a DurationSketch be kept on disk and summed: a
// backend that aggregates as spans arrive stores one encoded sketch per
// time bucket and merges the buckets of a range when asked.

// AddN records n durations d. A negative n takes back durations added
// before (a call first counted on one edge and then found to belong to
// another); bucket counts that reach zero are dropped.
func (s *DurationSketch) AddN(d time.Duration, n int64) {
	s.n += n
	if d <= 0 {
		s.zero += n
		return
	}
	s.addBucket(sketchIndex(d), n)
}

func (s *DurationSketch) addBucket(k int32, n int64) {
	if n == 0 {
		return
	}
	if s.counts == nil {
		s.counts = map[int32]int64{}
	}
	if c := s.counts[k] + n; c != 0 {
		s.counts[k] = c
	} else {
		delete(s.counts, k)
	}
}

// Merge adds every duration recorded in o.
func (s *DurationSketch) Merge(o *DurationSketch) {
	s.n += o.n
	s.zero += o.zero
	for k, c := range o.counts {
		s.addBucket(k, c)
	}
}

// AppendBinary appends the sketch's encoding: the count of zero
// durations, the number of buckets, then each bucket in ascending order as
// the difference of its index from the previous one and its count, all
// varints. A sketch of latencies within two decades takes a few hundred
// bytes.
func (s *DurationSketch) AppendBinary(b []byte) ([]byte, error) {
	keys := make([]int32, 0, len(s.counts))
	for k := range s.counts {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = binary.AppendVarint(b, s.zero)
	b = binary.AppendUvarint(b, uint64(len(keys)))
	prev := int32(0)
	for _, k := range keys {
		b = binary.AppendVarint(b, int64(k-prev))
		b = binary.AppendVarint(b, s.counts[k])
		prev = k
	}
	return b, nil
}

// errSketch is returned by MergeBinary for bytes AppendBinary did not write.
var errSketch = errors.New("corrupt duration sketch")

// MergeBinary adds the durations of a sketch encoded by AppendBinary at
// the start of b, and returns the bytes after it. On error it adds nothing:
// SkipSketch checks the encoding first, the loop below then trusts it.
func (s *DurationSketch) MergeBinary(b []byte) ([]byte, error) {
	rest, err := SkipSketch(b)
	if err != nil {
		return nil, err
	}
	zero, n := binary.Varint(b)
	buckets, m := binary.Uvarint(b[n:])
	b = b[n+m:]
	s.zero += zero
	s.n += zero
	k := int32(0)
	for range buckets {
		dk, n1 := binary.Varint(b)
		c, n2 := binary.Varint(b[n1:])
		b = b[n1+n2:]
		k += int32(dk)
		s.addBucket(k, c)
		s.n += c
	}
	return rest, nil
}

// SkipSketch returns the bytes after the sketch encoded at the start of b,
// or an error if b does not start with one. A decoder checks a value with
// it before adding anything from it.
func SkipSketch(b []byte) ([]byte, error) {
	_, n := binary.Varint(b)
	if n <= 0 {
		return nil, errSketch
	}
	b = b[n:]
	buckets, n := binary.Uvarint(b)
	if n <= 0 || buckets > uint64(len(b)) {
		return nil, errSketch
	}
	b = b[n:]
	k := int64(0)
	for range buckets {
		dk, n1 := varint(b)
		if n1 <= 0 {
			return nil, errSketch
		}
		_, n2 := varint(b[n1:])
		if n2 <= 0 {
			return nil, errSketch
		}
		b = b[n1+n2:]
		if k += dk; k < 0 || k > int64(maxSketchIndex) {
			return nil, errSketch
		}
	}
	return b, nil
}

// sketchIndex is the bucket of a positive duration.
func sketchIndex(d time.Duration) int32 {
	return int32(math.Ceil(math.Log(float64(d)) / logGamma))
}

// maxSketchIndex is the bucket of the longest duration an int64 holds.
var maxSketchIndex = sketchIndex(math.MaxInt64)

// DenseSketch is a DurationSketch held as an array over the range of
// buckets it holds, for summing many encoded sketches: adding to it is an
// index, not a map update. Its encoding is DurationSketch's. The zero
// value is ready to use.
type DenseSketch struct {
	zero, n int64
	lo      int32 // the bucket of counts[0]
	// counts covers the buckets added to since the last Reset; its
	// capacity is kept across Resets. Bucket indexes lie in [0,
	// maxSketchIndex], so it never holds more than maxSketchIndex+1.
	counts []int64
}

// AddN records n durations d; a negative n takes back durations added
// before.
func (s *DenseSketch) AddN(d time.Duration, n int64) {
	s.n += n
	if d <= 0 {
		s.zero += n
		return
	}
	s.add(sketchIndex(d), n)
}

func (s *DenseSketch) add(k int32, n int64) {
	if i := int(k - s.lo); len(s.counts) == 0 || i < 0 || i >= len(s.counts) {
		s.cover(k, k)
	}
	s.counts[k-s.lo] += n
}

// cover grows the array to hold the buckets lo to hi as well, within its
// capacity when that is enough.
func (s *DenseSketch) cover(lo, hi int32) {
	old, shift := len(s.counts), 0
	if old > 0 {
		lo, hi = min(lo, s.lo), max(hi, s.lo+int32(old)-1)
		shift = int(s.lo - lo)
	}
	n := int(hi-lo) + 1
	if n > cap(s.counts) {
		// Twice what is needed, so that summing sketches that widen the
		// range a little at a time copies the array a few times only.
		grown := make([]int64, n, max(n, min(2*n, int(maxSketchIndex)+1)))
		copy(grown[shift:], s.counts)
		s.counts = grown
	} else {
		s.counts = s.counts[:n]
		if shift > 0 {
			copy(s.counts[shift:], s.counts[:old])
			clear(s.counts[:shift])
		}
		clear(s.counts[shift+old:])
	}
	s.lo = lo
}

// Merge adds every duration recorded in o.
func (s *DenseSketch) Merge(o *DenseSketch) {
	s.n += o.n
	s.zero += o.zero
	first, last := 0, len(o.counts)-1
	for first <= last && o.counts[first] == 0 {
		first++
	}
	for last >= first && o.counts[last] == 0 {
		last--
	}
	if first > last {
		return
	}
	s.cover(o.lo+int32(first), o.lo+int32(last))
	to := s.counts[o.lo+int32(first)-s.lo:]
	for i, c := range o.counts[first : last+1] {
		to[i] += c
	}
}

// AddDelta adds every duration recorded in d, one bucket entry at a time:
// summing many deltas costs no sort.
func (s *DenseSketch) AddDelta(d *SketchDelta) {
	s.n += d.zero
	s.zero += d.zero
	for _, b := range d.buckets {
		s.n += b.n
		s.add(b.k, b.n)
	}
}

// Count returns how many durations were recorded.
func (s *DenseSketch) Count() int64 { return s.n }

// AppendBinary appends the encoding DurationSketch.AppendBinary writes.
func (s *DenseSketch) AppendBinary(b []byte) ([]byte, error) {
	nonzero := 0
	for _, c := range s.counts {
		if c != 0 {
			nonzero++
		}
	}
	b = binary.AppendVarint(b, s.zero)
	b = binary.AppendUvarint(b, uint64(nonzero))
	prev := int32(0)
	for i, c := range s.counts {
		if c != 0 {
			k := s.lo + int32(i)
			b = binary.AppendVarint(b, int64(k-prev))
			b = binary.AppendVarint(b, c)
			prev = k
		}
	}
	return b, nil
}

// MergeBinary adds the durations of a sketch encoded at the start of b and
// returns the bytes after it. On error it adds nothing.
func (s *DenseSketch) MergeBinary(b []byte) ([]byte, error) {
	return s.mergeBinary(b, false)
}

// MergeBinaryAll adds the durations of a sketch encoded in the whole of b,
// as MergeBinary does, and refuses b if bytes follow the sketch. A reader
// of rows that end with a sketch checks and adds it in one pass.
func (s *DenseSketch) MergeBinaryAll(b []byte) error {
	_, err := s.mergeBinary(b, true)
	return err
}

// mergeBinary checks and adds the sketch at the start of b in one pass;
// on error (or, if all, bytes after it) it takes back what it added.
func (s *DenseSketch) mergeBinary(b []byte, all bool) ([]byte, error) {
	zero, n := binary.Varint(b)
	if n <= 0 {
		return nil, errSketch
	}
	buckets, m := binary.Uvarint(b[n:])
	if m <= 0 || buckets > uint64(len(b)-n) {
		return nil, errSketch
	}
	body := b[n+m:]
	p, k, sum := body, int64(0), int64(0)
	for i := range buckets {
		// A bucket is most often a one-byte delta and a one-byte count;
		// the loop is written out, as varint and add do not inline.
		var dk, c int64
		n1, n2 := 1, 1
		if len(p) >= 2 && p[0]|p[1] < 0x80 {
			dk, c = int64(p[0]>>1)^-int64(p[0]&1), int64(p[1]>>1)^-int64(p[1]&1)
		} else if dk, n1 = binary.Varint(p); n1 > 0 {
			c, n2 = binary.Varint(p[n1:])
		}
		if n1 <= 0 || n2 <= 0 {
			return nil, s.takeBack(body, i)
		}
		if k += dk; k < 0 || k > int64(maxSketchIndex) {
			return nil, s.takeBack(body, i)
		}
		p = p[n1+n2:]
		j := int(int32(k) - s.lo)
		switch {
		case len(s.counts) > 0 && j >= 0 && j < len(s.counts):
		case len(s.counts) > 0 && j >= len(s.counts) && j < cap(s.counts):
			// Buckets come in ascending order: the array grows to the right.
			old := len(s.counts)
			s.counts = s.counts[:j+1]
			clear(s.counts[old:])
		default:
			s.cover(int32(k), int32(k))
			j = int(int32(k) - s.lo)
		}
		s.counts[j] += c
		sum += c
	}
	if all && len(p) != 0 {
		return nil, s.takeBack(body, buckets)
	}
	s.zero += zero
	s.n += zero + sum
	return p, nil
}

// takeBack subtracts the first n buckets encoded in body, which
// mergeBinary added and checked, and returns errSketch.
func (s *DenseSketch) takeBack(body []byte, n uint64) error {
	k := int64(0)
	for range n {
		dk, n1 := varint(body)
		c, n2 := varint(body[n1:])
		body = body[n1+n2:]
		k += dk
		s.counts[int32(k)-s.lo] -= c
	}
	return errSketch
}

// varint is binary.Varint with the one-byte case inline: most bucket
// deltas and counts of a sketch take one byte.
func varint(b []byte) (int64, int) {
	if len(b) > 0 && b[0] < 0x80 {
		return int64(b[0]>>1) ^ -int64(b[0]&1), 1
	}
	return binary.Varint(b)
}

// Sketch returns the same durations as a DurationSketch, to read
// quantiles from.
func (s *DenseSketch) Sketch() DurationSketch {
	out := DurationSketch{zero: s.zero, n: s.n}
	for i, c := range s.counts {
		if c != 0 {
			out.addBucket(s.lo+int32(i), c)
		}
	}
	return out
}
