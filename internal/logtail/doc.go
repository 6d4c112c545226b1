// Package logtail tells a torn tail from damage in goleveldb's log files
// (the journal, NNNNNN.log, and the MANIFEST, both in the LevelDB log
// format) and cuts a torn tail off before the database is opened.
//
// Custodian opens every table strictly (a damaged journal or MANIFEST fails
// the open instead of being replayed with silent loss). An append cut short
// is not damage: a SIGKILL between the write() calls of one record (goleveldb
// writes a record that crosses a 32 KiB block with one write per block), or
// a write that hit ENOSPC half way, leaves part of a record at the end of a
// journal (the newest, or one that goleveldb left behind when it rotated
// its memtable after the failed write). That record was never acknowledged (its write returned an
// error, or never returned), so cutting it loses nothing; treating it as
// corruption would quarantine a healthy table and restore an older backup.
// LevelDB's own recovery, etcd's WAL repair and SQLite do the same cut.
//
// Inspect classifies the tail; Repair applies it to a database directory.
package logtail
