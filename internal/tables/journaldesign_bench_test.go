package tables

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// BenchmarkJournalDesign measures the two designs of the change journal
// that issue 10 asks to compare before one is chosen, on raw goleveldb with
// 16 writers overwriting 1,000 keys, fsynced and not:
//
//   - today: db.Put alone (the baseline, in the same run);
//
//   - own-log: db.Put, then Custodian's own append-only log record (length,
//     CRC-32C, time, key, value) in the same call, group-committed (one
//     write, and with sync one fsync, per group of waiting writers): the
//     cost of a second durable log on the hot path;
//
//   - time-in-batch: the storage-wrapper design's hot path: goleveldb's
//     own journal is the change journal (its obsolete files archived
//     instead of deleted, which costs nothing per write), and the write's
//     time goes into the same batch as a reserved key, so that a
//     point-in-time restore can find it: one batch of two puts;
//
//   - time-per-ms: the same, but only a write at least 1 ms after the last
//     timed one carries the time (the others inherit it: 1 ms resolution).
//
//     go test -run '^$' -bench JournalDesign -benchtime 3s -count 3 ./internal/tables/
func BenchmarkJournalDesign(b *testing.B) {
	for _, sync := range []bool{true, false} {
		mode := "nosync"
		if sync {
			mode = "sync"
		}
		b.Run("today/"+mode, func(b *testing.B) { journalDesign(b, sync, "today") })
		b.Run("own-log/"+mode, func(b *testing.B) { journalDesign(b, sync, "own-log") })
		b.Run("time-in-batch/"+mode, func(b *testing.B) { journalDesign(b, sync, "time-in-batch") })
		b.Run("time-per-ms/"+mode, func(b *testing.B) { journalDesign(b, sync, "time-per-ms") })
	}
}

func journalDesign(b *testing.B, durable bool, design string) {
	dir := b.TempDir()
	db, err := leveldb.OpenFile(filepath.Join(dir, "db"), &opt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	var glog *groupLog
	if design == "own-log" {
		f, err := os.OpenFile(filepath.Join(dir, "journal"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		glog = newGroupLog(f, durable)
	}
	const keys, writers = 1000, 16
	value := []byte(`{"name":"ada lovelace","visits":12345,"tags":["a","b","c"]}`)
	names := make([][]byte, keys)
	for i := range names {
		names[i] = []byte(fmt.Sprintf("k%05d", i))
	}
	wo := &opt.WriteOptions{Sync: durable}
	var lastTimed atomic.Int64 // time-per-ms
	put := func(k []byte) error {
		switch design {
		case "time-per-ms":
			now := time.Now().UnixNano()
			last := lastTimed.Load()
			if now-last < int64(time.Millisecond) || !lastTimed.CompareAndSwap(last, now) {
				return db.Put(k, value, wo)
			}
			var batch leveldb.Batch
			var ts [8]byte
			binary.BigEndian.PutUint64(ts[:], uint64(now))
			batch.Put(k, value)
			batch.Put([]byte("\x00custodian/time"), ts[:])
			return db.Write(&batch, wo)
		case "own-log":
			if err := db.Put(k, value, wo); err != nil {
				return err
			}
			return glog.append(journalRecord(k, value))
		case "time-in-batch":
			var batch leveldb.Batch
			var ts [8]byte
			binary.BigEndian.PutUint64(ts[:], uint64(time.Now().UnixNano()))
			batch.Put(k, value)
			batch.Put([]byte("\x00custodian/time"), ts[:])
			return db.Write(&batch, wo)
		}
		return db.Put(k, value, wo)
	}
	b.ResetTimer()
	runWriters(b, writers, func(i int) error { return put(names[i%keys]) })
}

// journalRecord is a change journal record of the own-log design: length,
// CRC-32C of the rest, time, key length, key, value.
func journalRecord(k, v []byte) []byte {
	rec := make([]byte, 4+4+8+4, 20+len(k)+len(v))
	binary.LittleEndian.PutUint64(rec[8:], uint64(time.Now().UnixNano()))
	binary.LittleEndian.PutUint32(rec[16:], uint32(len(k)))
	rec = append(append(rec, k...), v...)
	binary.LittleEndian.PutUint32(rec[0:], uint32(len(rec)-8))
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(rec[8:], crc32.MakeTable(crc32.Castagnoli)))
	return rec
}

// groupLog appends records with group commit: the first waiting writer
// writes (and fsyncs) everything appended so far; the others wait for it.
type groupLog struct {
	f       *os.File
	durable bool

	mu       sync.Mutex
	cond     *sync.Cond
	buf      []byte
	appended uint64
	written  uint64
	flushing bool
	err      error
}

func newGroupLog(f *os.File, durable bool) *groupLog {
	g := &groupLog{f: f, durable: durable}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *groupLog) append(rec []byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.buf = append(g.buf, rec...)
	g.appended++
	mine := g.appended
	for g.written < mine && g.err == nil {
		if g.flushing {
			g.cond.Wait()
			continue
		}
		g.flushing = true
		buf, upto := g.buf, g.appended
		g.buf = nil
		g.mu.Unlock()
		_, err := g.f.Write(buf)
		if err == nil && g.durable {
			err = g.f.Sync()
		}
		g.mu.Lock()
		g.flushing = false
		g.written = upto
		g.err = err
		g.cond.Broadcast()
	}
	return g.err
}
