package tables

import (
	"sync"

	"github.com/syndtr/goleveldb/leveldb"
)

// recentMaxKeyBytes bounds the key bytes a table's recentLens holds (about
// 16k keys of 64 bytes): when a new key would pass it, the cache starts
// over empty.
const recentMaxKeyBytes = 1 << 20

// recentLens remembers, for the keys written most recently through the
// table, whether each exists after that write and the length of its value,
// so that the next single put or delete of a hot key can keep the dead
// estimate (see dead.go) without reading the old value from goleveldb.
// That read was the largest cost of a no-sync put after the journal write
// (a search of the memtable's skiplist: ~1.5 µs of CPU per put in the bus
// benchmark's profile).
//
// It only ever holds what this table wrote: an entry is set after a write
// succeeded, in the same call. It belongs to one database handle: a lookup
// or set with another handle (after a rewrite's swap, a restore or a
// salvage) empties it first, so an entry is never used against a database
// that did not take its write. Concurrent writes of one key may set their
// entries in the other order than goleveldb applied them; the estimate
// then drifts as it can with the read (see dead.go), until the next verify
// corrects the live figures.
type recentLens struct {
	mu       sync.Mutex
	db       *leveldb.DB
	lens     map[string]int32 // value length; -1: the key does not exist
	keyBytes int
}

// lookup reports what the last write of key through db left: existed and
// the value's length; ok is false when the cache does not know.
func (r *recentLens) lookup(db *leveldb.DB, key string) (existed bool, n int, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.db != db {
		return false, 0, false
	}
	l, ok := r.lens[key]
	if !ok {
		return false, 0, false
	}
	return l >= 0, int(l), true
}

// set records that a write of key through db succeeded and left a value of
// n bytes (n < 0: the key was deleted). n fits an int32: values are at
// most MaxValueBytes.
func (r *recentLens) set(db *leveldb.DB, key string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.db != db || r.lens == nil {
		r.reset(db)
	}
	if _, had := r.lens[key]; !had {
		if r.keyBytes+len(key) > recentMaxKeyBytes {
			r.reset(db)
		}
		r.keyBytes += len(key)
	}
	r.lens[key] = int32(max(n, -1))
}

// reset empties the cache and ties it to db. The caller holds r.mu.
func (r *recentLens) reset(db *leveldb.DB) {
	r.db = db
	r.lens = make(map[string]int32)
	r.keyBytes = 0
}

// forget empties the cache and frees its memory (the table goes to sleep).
func (r *recentLens) forget() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.db, r.lens, r.keyBytes = nil, nil, 0
}
