package pebble

// LSMShape returns Pebble's metrics table: tables and bytes per level, for
// a benchmark to log the shape its figures were measured on.
func LSMShape(s *Store) string { return s.db.Metrics().String() }
