package tables

import (
	"github.com/syndtr/goleveldb/leveldb/cache"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// Sizing for many tables. goleveldb keeps, per open database, a memtable it
// allocates whole (the write buffer), a block cache and a cache of open
// table files. With thousands of tables on a node those add up by what
// exists, not by what is used, so a Store:
//
//   - closes idle tables (sleep.go) and bounds how many are open at once
//     (Options.MaxOpen): a closed table holds no memtable and no file;
//   - gives a table the small write buffer (Options.WriteBuffer) unless it
//     writes fast: a table that wrote Options.BusyBytes since it was opened
//     is reopened, at its next idle check, with the big one
//     (Options.BusyWriteBuffer), which keeps a busy table's put throughput;
//   - shares one block cache and one open-files cache among all its
//     tables (goleveldb lets the LRU that decides evictions be shared: each
//     database keeps its own index of cached blocks, the LRU is one), so
//     that both are bounded per node.
const (
	DefaultWriteBuffer     = 512 << 10
	DefaultBusyWriteBuffer = 4 << 20
	DefaultBusyBytes       = 2 << 20
	DefaultBlockCache      = 64 << 20
	DefaultOpenFiles       = 1024
)

// sharedCacher hands every database the same LRU (opt.Cacher's New is
// called once per open database; its capacity argument is ignored).
type sharedCacher struct{ lru cache.Cacher }

func (c sharedCacher) New(int) cache.Cacher { return c.lru }

// caches are the LRUs shared by the tables of a Store.
type caches struct {
	block cache.Cacher
	files cache.Cacher
}

func newCaches(o Options) caches {
	return caches{block: cache.NewLRU(o.BlockCache), files: cache.NewLRU(o.OpenFiles)}
}

// withSizing fills the sizing options' defaults.
func withSizing(o Options) Options {
	if o.WriteBuffer <= 0 {
		o.WriteBuffer = DefaultWriteBuffer
	}
	if o.BusyWriteBuffer <= 0 {
		o.BusyWriteBuffer = DefaultBusyWriteBuffer
	}
	if o.BusyBytes <= 0 {
		o.BusyBytes = DefaultBusyBytes
	}
	if o.BlockCache <= 0 {
		o.BlockCache = DefaultBlockCache
	}
	if o.OpenFiles <= 0 {
		o.OpenFiles = DefaultOpenFiles
	}
	return o
}

// size sets a live database's buffer and shared caches: the big write
// buffer when busy.
func (s *Store) size(o *opt.Options, busy bool) {
	o.WriteBuffer = s.opts.WriteBuffer
	if busy {
		o.WriteBuffer = s.opts.BusyWriteBuffer
	}
	o.BlockCacher = sharedCacher{s.caches.block}
	o.BlockCacheCapacity = s.opts.BlockCache
	o.OpenFilesCacher = sharedCacher{s.caches.files}
	o.OpenFilesCacheCapacity = s.opts.OpenFiles
}
