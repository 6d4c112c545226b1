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
// This is the first part of issue 10's design (docs/benchmarks/
// journal-design.md): goleveldb's journals kept instead of deleted, the
// time carried at most once per millisecond. The time is written; the
// archive is not yet: today the journal is what the live database's .log
// files hold (the writes since goleveldb's last memtable flush).
package changelog
