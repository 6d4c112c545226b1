package tables

import (
	"encoding/binary"
	"strings"
	"time"

	"github.com/syndtr/goleveldb/leveldb"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/changelog"
	"github.com/custodian-dev/custodian/internal/events"
)

// Writes carry their time into the change journal (goleveldb's journal, see
// package changelog): a write at least timeEvery after the table's last
// timed one puts changelog.TimeKey (8-byte big-endian Unix nanoseconds) and
// deletes it again in its own batch, so that the journal record holds the
// time and the table never holds the key. Measured: no cost on the put
// (docs/benchmarks/journal-design.md, "time-per-ms").
const timeEvery = time.Millisecond

// timeDue reports whether a write now carries the time, and claims it.
func (t *Table) timeDue(now time.Time) bool {
	n := now.UnixNano()
	last := t.lastTimed.Load()
	return n-last >= int64(timeEvery) && t.lastTimed.CompareAndSwap(last, n)
}

// addTime puts the time into b (before the write's own ops).
func addTime(b *leveldb.Batch, now time.Time) {
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(now.UnixNano()))
	b.Put([]byte(changelog.TimeKey), ts[:])
	b.Delete([]byte(changelog.TimeKey))
}

// checkReserved refuses a client key in the prefix Custodian writes for
// itself (changelog.ReservedPrefix).
func checkReserved(key string) error {
	if strings.HasPrefix(key, changelog.ReservedPrefix) {
		return apierr.New(apierr.InvalidRequest, "key %q: keys starting with %q are reserved", events.Echo(key), changelog.ReservedPrefix)
	}
	return nil
}
