package pebble

// ServiceMapBytes is the size on disk of the service map's rows, once
// flushed, for the benchmarks in package pebble_test.
func ServiceMapBytes(s *Store) (uint64, error) {
	if err := s.db.Flush(); err != nil {
		return 0, err
	}
	return s.db.EstimateDiskUsage([]byte{kindEdge}, []byte{kindEdge + 1})
}
