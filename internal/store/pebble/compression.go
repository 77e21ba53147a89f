package pebble

import (
	pdb "github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/sstable"
)

// compactedBlockSize is the uncompressed size of a data block in the tables
// that compactions write (L1 and below). At Pebble's default of 4 KiB a
// block holds a few trace records or one block's index rows, and zstd finds
// little to share between them; at 32 KiB it sees the resource attributes,
// attribute keys and operation names that dozens of records repeat. A read
// of one record (trace by ID, a block's rows) then decompresses 32 KiB,
// about 30 µs.
const compactedBlockSize = 32 << 10

// configureCompression makes compactions write zstd-compressed tables of
// large blocks: nearly all the data lives there, written once per level in
// the background. Flushes (L0) keep Pebble's defaults, Snappy and 4 KiB
// blocks, so that a memtable reaches disk at the speed spans arrive.
// Tables written before keep their compression and are read as they were:
// each block says how it is compressed.
func configureCompression(po *pdb.Options) {
	for i := 1; i < len(po.Levels); i++ {
		l := &po.Levels[i]
		l.BlockSize = compactedBlockSize
		l.Compression = func() *sstable.CompressionProfile { return sstable.ZstdCompression }
	}
}
