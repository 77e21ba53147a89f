package pebble

// LSMShape returns Pebble's metrics table: tables and bytes per level, for
// a benchmark to log the shape its figures were measured on.
func LSMShape(s *Store) string { return s.db.Metrics().String() }

// Settled reports whether Pebble has caught up with its compactions: none
// running and no level that it would compact (a score of zero). Neither its
// debt estimate nor the count of L0 tables is a test: a store at rest keeps
// 60 to 230 MB of debt, and up to 13 L0 tables that do not overlap, and a
// wait for less lasted the full 10 minutes.
func Settled(s *Store) bool {
	m := s.db.Metrics()
	if m.Compact.NumInProgress != 0 {
		return false
	}
	for i := range m.Levels {
		if m.Levels[i].Score > 0 {
			return false
		}
	}
	return true
}
