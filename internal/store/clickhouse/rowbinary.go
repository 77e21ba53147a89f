package clickhouse

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// RowBinary is ClickHouse's plain binary row format, the same on every
// server version: integers little-endian, strings and arrays prefixed by an
// unsigned LEB128 length, FixedString as its bytes. It carries any byte
// string exactly, which text formats (JSON in particular) do not.

// rowWriter appends values in RowBinary.
type rowWriter struct{ b []byte }

func (w *rowWriter) uvarint(n uint64) { w.b = binary.AppendUvarint(w.b, n) }

func (w *rowWriter) str(s string) {
	w.uvarint(uint64(len(s)))
	w.b = append(w.b, s...)
}

func (w *rowWriter) fixed(raw []byte) { w.b = append(w.b, raw...) }

func (w *rowWriter) u8(v uint8) { w.b = append(w.b, v) }

func (w *rowWriter) u16(v uint16) { w.b = binary.LittleEndian.AppendUint16(w.b, v) }

func (w *rowWriter) u32(v uint32) { w.b = binary.LittleEndian.AppendUint32(w.b, v) }

func (w *rowWriter) i64(v int64) { w.b = binary.LittleEndian.AppendUint64(w.b, uint64(v)) }

// errLimit is returned for a length no sane result holds: a corrupt or
// misread stream rather than a reason to allocate gigabytes.
var errLimit = errors.New("length out of range")

// maxLen bounds a single string or array length read back.
const maxLen = 64 << 20

// rowReader decodes RowBinary values; the first error sticks and later reads
// return zero values.
type rowReader struct {
	r   *bufio.Reader
	err error
	buf [8]byte
}

func (r *rowReader) fail(err error) {
	if r.err == nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		r.err = err
	}
}

func (r *rowReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	n, err := binary.ReadUvarint(r.r)
	if err != nil {
		r.fail(err)
		return 0
	}
	return n
}

func (r *rowReader) length() int {
	n := r.uvarint()
	if n > maxLen {
		r.fail(fmt.Errorf("%w: %d", errLimit, n))
		return 0
	}
	return int(n)
}

func (r *rowReader) read(p []byte) {
	if r.err != nil {
		return
	}
	if _, err := io.ReadFull(r.r, p); err != nil {
		r.fail(err)
	}
}

func (r *rowReader) str() string {
	n := r.length()
	if n == 0 || r.err != nil {
		return ""
	}
	p := make([]byte, n)
	r.read(p)
	return string(p)
}

func (r *rowReader) fixed(p []byte) { r.read(p) }

func (r *rowReader) u8() uint8 {
	r.read(r.buf[:1])
	return r.buf[0]
}

func (r *rowReader) u16() uint16 {
	r.read(r.buf[:2])
	return binary.LittleEndian.Uint16(r.buf[:2])
}

func (r *rowReader) u32() uint32 {
	r.read(r.buf[:4])
	return binary.LittleEndian.Uint32(r.buf[:4])
}

func (r *rowReader) u64() uint64 {
	r.read(r.buf[:8])
	return binary.LittleEndian.Uint64(r.buf[:8])
}

func (r *rowReader) i64() int64 { return int64(r.u64()) }

func (r *rowReader) strs() []string {
	n := r.length()
	if n == 0 {
		return nil
	}
	out := make([]string, 0, min(n, 1024))
	for i := 0; i < n && r.err == nil; i++ {
		out = append(out, r.str())
	}
	return out
}

func (r *rowReader) u8s() []uint8 {
	n := r.length()
	if n == 0 || r.err != nil {
		return nil
	}
	p := make([]byte, n)
	r.read(p)
	return p
}

func (r *rowReader) i64s() []int64 {
	n := r.length()
	if n == 0 {
		return nil
	}
	out := make([]int64, 0, min(n, 1024))
	for i := 0; i < n && r.err == nil; i++ {
		out = append(out, r.i64())
	}
	return out
}
