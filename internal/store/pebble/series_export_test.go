package pebble

// SeriesBytes is the size on disk of the RED series rows, once flushed,
// for the benchmarks in package pebble_test.
func SeriesBytes(s *Store) (uint64, error) {
	if err := s.db.Flush(); err != nil {
		return 0, err
	}
	return s.db.EstimateDiskUsage([]byte{kindSeries}, []byte{kindSeries + 1})
}
