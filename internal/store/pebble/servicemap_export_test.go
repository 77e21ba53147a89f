package pebble

import pdb "github.com/cockroachdb/pebble/v2"

// ServiceMapBytes is the size on disk of the service map's rows, once
// flushed, for the benchmarks in package pebble_test.
func ServiceMapBytes(s *Store) (uint64, error) {
	if err := s.db.Flush(); err != nil {
		return 0, err
	}
	return s.db.EstimateDiskUsage([]byte{kindEdge}, []byte{kindEdge + 1})
}

// CallRecords counts the caller and pending records.
func CallRecords(s *Store) (int, error) {
	it, err := s.db.NewIter(&pdb.IterOptions{LowerBound: []byte{kindCaller}, UpperBound: []byte{kindCaller + 1}})
	if err != nil {
		return 0, err
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	if err := it.Close(); err != nil {
		return 0, err
	}
	it, err = s.db.NewIter(&pdb.IterOptions{LowerBound: []byte{kindPending}, UpperBound: []byte{kindPending + 1}})
	if err != nil {
		return 0, err
	}
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n, it.Close()
}
