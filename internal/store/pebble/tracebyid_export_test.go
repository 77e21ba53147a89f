package pebble

// LSMShape returns Pebble's metrics table: tables and bytes per level, for
// a benchmark to log the shape its figures were measured on.
func LSMShape(s *Store) string { return s.db.Metrics().String() }

// Settled reports whether Pebble has caught up with its compactions: none
// running, few tables in L0 and less debt than two memtables (a store at
// rest keeps some: the estimate never reaches zero).
func Settled(s *Store) bool {
	m := s.db.Metrics()
	return m.Compact.EstimatedDebt < memTableSize*2 && m.Compact.NumInProgress == 0 && m.Levels[0].TablesCount < 8
}
