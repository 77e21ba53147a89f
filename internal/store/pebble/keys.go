package pebble

import (
	"encoding/binary"
	"time"
)

// Key layout. Every span record starts with its partition day, so retention
// drops whole days with one range deletion per record kind.
//
//	T day project traceID seq          spans of one trace from one write:
//	                                   the trace's index in the W block of
//	                                   the same seq, or (versions before)
//	                                   the spans themselves
//	W day project seq                  column block: spans of one write's
//	                                   day partition (colblock.go)
//	X day project seq                  trace IDs of the W block of the same
//	                                   seq, which index rows name by index
//	b day project service maxStart seq index block meta (filter), keyed by
//	                                   the latest start of its spans
//	I day project service minStart seq index block rows, keyed by the
//	                                   earliest (the meta holds both)
//	p day project maxStart seq         the block's service and meta again, for
//	                                   searches of every service (index.go)
//	B, P                               b and p keyed by the earliest start, as
//	                                   versions before the latest-start index
//	                                   wrote them; Open rewrites them once
//	D day project fingerprint          a batch of spans already stored, so that
//	                                   an exporter's retry is stored once
//	S project service                  service seen
//	O project service op               operation seen (value: kind)
//	M kind/...                         metadata (projects, keys) as JSON
//	F feature                          a format feature the data has
//	E day project gran minute edge     service-map calls of a minute or hour
//	C hour project traceID spanID      a span that may call another service
//	Q hour project traceID parent span a call waiting for its caller's span
//	                                   (C and Q: servicemap.go)
//	R day project width service target bucket
//	                                   RED series rows (series.go)
//	U seq                              writes whose RED series sums are
//	                                   not in R rows yet (serieslog.go)
const (
	kindTrace           = 'T'
	kindSpanBlock       = 'W'
	kindTraceIDs        = 'X'
	kindBlockMeta       = 'b'
	kindBlockRows       = 'I'
	kindService         = 'S'
	kindOperation       = 'O'
	kindMeta            = 'M'
	kindProjectBlock    = 'p'
	kindOldBlockMeta    = 'B'
	kindOldProjectBlock = 'P'
	kindFeature         = 'F'
	kindBatch           = 'D'
	kindEdge            = 'E'
	kindCaller          = 'C' // no longer written (servicemap.go); old ones expire
	kindPending         = 'Q'
	kindSeries          = 'R'
	kindSeriesLog       = 'U'
)

const day = 24 * time.Hour

// dayOf returns the partition day (days since the Unix epoch) of a time in
// Unix nanoseconds.
func dayOf(unixNano int64) uint32 {
	if unixNano < 0 {
		return 0
	}
	return uint32(unixNano / int64(day))
}

func appendName(b []byte, s string) []byte {
	b = append(b, byte(len(s)))
	return append(b, s...)
}

func traceKeyPrefix(b []byte, d uint32, project string, tid []byte) []byte {
	b = append(b, kindTrace)
	b = binary.BigEndian.AppendUint32(b, d)
	b = appendName(b, project)
	return append(b, tid...)
}

// seqKey is the key of a column block of spans (kindSpanBlock) or of its
// trace ID list (kindTraceIDs).
func seqKey(b []byte, kind byte, d uint32, project string, seq uint64) []byte {
	b = append(b, kind)
	b = binary.BigEndian.AppendUint32(b, d)
	b = appendName(b, project)
	return appendSeq(b, seq)
}

func blockKeyPrefix(b []byte, kind byte, d uint32, project, service string) []byte {
	b = append(b, kind)
	b = binary.BigEndian.AppendUint32(b, d)
	b = appendName(b, project)
	return appendName(b, service)
}

// blockKey is the key of a block's meta (kindBlockMeta, at its latest
// start) or rows (kindBlockRows, at its earliest start).
func blockKey(b []byte, kind byte, d uint32, project, service string, start int64, seq uint64) []byte {
	b = blockKeyPrefix(b, kind, d, project, service)
	b = binary.BigEndian.AppendUint64(b, uint64(max(start, 0)))
	return binary.BigEndian.AppendUint64(b, seq)
}

// projectBlockKey is the key of a block in its project's index of every
// service's blocks, ordered by their latest start.
func projectBlockKey(b []byte, d uint32, project string, maxStart int64, seq uint64) []byte {
	b = append(b, kindProjectBlock)
	b = binary.BigEndian.AppendUint32(b, d)
	b = appendName(b, project)
	b = binary.BigEndian.AppendUint64(b, uint64(max(maxStart, 0)))
	return binary.BigEndian.AppendUint64(b, seq)
}

func serviceKey(project, service string) []byte {
	return appendName(appendName([]byte{kindService}, project), service)
}

func operationKey(project, service, op string) []byte {
	return appendOperationKey(nil, project, service, op)
}

func appendOperationKey(b []byte, project, service, op string) []byte {
	b = append(b, kindOperation)
	return append(appendName(appendName(b, project), service), op...)
}

func operationKeyPrefix(project, service string) []byte {
	return appendName(appendName([]byte{kindOperation}, project), service)
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil
}

// batchKey is the key that marks a batch of spans as stored.
func batchKey(d uint32, project string, fp [16]byte) []byte {
	b := []byte{kindBatch}
	b = binary.BigEndian.AppendUint32(b, d)
	b = appendName(b, project)
	return append(b, fp[:]...)
}
