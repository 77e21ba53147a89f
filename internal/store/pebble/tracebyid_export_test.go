package pebble

// LSMShape returns Pebble's metrics table: tables and bytes per level, for
// a benchmark to log the shape its figures were measured on.
func LSMShape(s *Store) string { return s.db.Metrics().String() }

// Settled reports whether Pebble has caught up with its compactions: no
// debt, none running and few tables in L0.
func Settled(s *Store) bool {
	m := s.db.Metrics()
	return m.Compact.EstimatedDebt == 0 && m.Compact.NumInProgress == 0 && m.Levels[0].TablesCount < 8
}
