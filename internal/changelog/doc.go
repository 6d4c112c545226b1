// Package changelog reads a table's change journal: the writes it holds, in
// order, each with its position (goleveldb's sequence number) and, where
// its batch carries one, its time.
//
// The change journal of a table is goleveldb's own journal (NNNNNN.log
// files in the LevelDB log format; see package logtail for the chunk
// layout). Each record is one write batch: an 8-byte little-endian
// sequence number, a 4-byte little-endian count, then count ops, each a
// type byte (1 put, 0 delete), a varint-prefixed key and, for a put, a
// varint-prefixed value. Concurrent writes may share one record. A batch
// may carry its time as a put of the reserved key TimeKey (8-byte
// big-endian Unix nanoseconds) followed by its delete, so that the table
// never holds it; neither op is a write of the table. tables puts the time
// into a write's batch when at least 1 ms passed since the last timed one:
// an op without a time was written at (or within 1 ms after) the time of
// the last timed op before it.
//
// goleveldb's journals are kept instead of deleted (package tables links
// each into the table's archive before goleveldb removes it; Keep, Seal),
// as files of a generation: every database that became the table's live
// database (Generation). A position is generation × GenerationStride +
// sequence number. Journal.Replay reads the history of the table's
// current state from a backup's position on, stopping at damage or a gap
// (ReplayResult.Lost). The layout and format are documented for operators
// in docs/JOURNAL.md.
package changelog
