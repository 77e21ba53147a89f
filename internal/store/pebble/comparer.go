package pebble

import (
	pdb "github.com/cockroachdb/pebble/v2"
	pbloom "github.com/cockroachdb/pebble/v2/bloom"
)

// bloomBitsPerKey sizes the tables' Bloom filters: 10 bits per key prefix
// is a 1 % false-positive rate.
const bloomBitsPerKey = 10

// traceKeyPrefixLen is the length of a trace record key without its seq:
// kind, day, project (length byte and name), trace ID.
func traceKeyPrefixLen(projectLen int) int { return 1 + 4 + 1 + projectLen + 16 }

// splitKey is the comparer's Split: a trace record key's prefix is all but
// its 8-byte seq (kind, day, project, trace ID), so that the tables' Bloom
// filters know which traces of which day they hold; every other key, and
// anything shorter than a trace prefix, is its own prefix.
//
// Pebble's rules hold because the order stays bytewise: a prefix is a
// leading part of its key, a trace key's prefix length depends only on its
// first 6 bytes (kind and project length), and the seq, compared bytewise,
// orders keys of one prefix.
func splitKey(k []byte) int {
	if len(k) > 5 && k[0] == kindTrace {
		if n := traceKeyPrefixLen(int(k[5])); len(k) >= n {
			return n
		}
	}
	return len(k)
}

// immediateSuccessor appends the smallest prefix (a key that splitKey
// leaves whole) after prefix a. Pebble's default appends a zero byte, but
// a trace prefix with a byte appended is a trace key of that same prefix:
// its successor is the prefix incremented as a number instead, so that a
// range deletion cut to one trace's prefix still covers every seq.
func immediateSuccessor(dst, a []byte) []byte {
	if len(a) <= 5 || a[0] != kindTrace || len(a) != traceKeyPrefixLen(int(a[5])) {
		return append(append(dst, a...), 0)
	}
	n := len(dst)
	dst = append(dst, a...)
	for i := len(dst) - 1; i >= n; i-- {
		if dst[i]++; dst[i] != 0 {
			return dst[:i+1]
		}
	}
	return dst // unreachable: a starts with kindTrace, not 0xff
}

// configureTraceLookups gives Pebble a comparer that splits trace record
// keys from their seq and a Bloom filter on every level, so that looking a
// trace up in a day partition that lacks it (most of them) is answered by
// each table's filter instead of a seek into its blocks.
//
// The comparer keeps the name of Pebble's default, which every existing
// store was created with and Pebble checks on open: the key order is the
// same bytewise order; only Split, which decides what the filters hold, is
// new. Tables written before have no filter and are read as they were
// (their row blocks mark no two trace records as one prefix, which only
// Iterator.NextPrefix would look at; the store does not call it). Should
// the store ever write columnar tables (FormatColumnarBlocks), note that
// their key schema is named after the comparer and stores keys split by
// it: Split must not change again once such tables exist.
func configureTraceLookups(po *pdb.Options) {
	c := *pdb.DefaultComparer
	c.Split = splitKey
	c.ImmediateSuccessor = immediateSuccessor
	po.Comparer = &c
	for i := range po.Levels {
		po.Levels[i].FilterPolicy = pbloom.FilterPolicy(bloomBitsPerKey)
	}
}

// traceKeyPrefixMax is the longest trace key prefix, that of a project
// name of 255 bytes.
const traceKeyPrefixMax = 1 + 4 + 1 + 255 + 16
