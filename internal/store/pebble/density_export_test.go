package pebble

import "context"

// KindBytes flushes the store, compacts it into its bottom level, and
// returns the bytes its tables then hold: in all ("all") and by record kind
// (trace records, index rows with the trace ID lists they name, index
// metas, project index, batch marks, service map, RED series). It is for the density benchmark in package
// pebble_test.
func KindBytes(s *Store) (map[string]uint64, error) {
	if err := s.db.Flush(); err != nil {
		return nil, err
	}
	if err := s.db.Compact(context.Background(), []byte{0}, []byte{0xff}, true); err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, k := range []struct {
		name  string
		kinds []byte
	}{{"all", nil}, {"trace", []byte{kindTrace, kindSpanBlock}}, {"rows", []byte{kindBlockRows, kindTraceIDs}}, {"meta", []byte{kindBlockMeta}},
		{"project", []byte{kindProjectBlock}}, {"batch", []byte{kindBatch}},
		{"svcmap", []byte{kindEdge, kindCaller, kindPending}}, {"series", []byte{kindSeries}}} {
		if k.kinds == nil {
			n, err := s.db.EstimateDiskUsage([]byte{0}, []byte{0xff})
			if err != nil {
				return nil, err
			}
			out[k.name] = n
		}
		for _, kind := range k.kinds {
			n, err := s.db.EstimateDiskUsage([]byte{kind}, []byte{kind + 1})
			if err != nil {
				return nil, err
			}
			out[k.name] += n
		}
	}
	return out, nil
}
