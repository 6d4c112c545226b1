package tables

import (
	"context"
	"errors"
	"fmt"
	"github.com/custodian-dev/custodian/internal/changelog"
	"os"
	"path/filepath"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// Catch-up rounds of a rewrite: rounds run while more than
// rewriteFinalKeys keys are pending, at most rewriteMaxRounds times; what is
// left is applied inside the write pause.
const (
	rewriteFinalKeys = 256
	rewriteMaxRounds = 8
)

// getter is what a catch-up reads from: the live database or a snapshot.
type getter interface {
	Get(key []byte, ro *opt.ReadOptions) ([]byte, error)
}

// rewrite compacts by copy-and-swap:
//
//  1. tracking on: every write from now records its keys in a delta (a
//     dirtySet), then a snapshot of the live database is taken;
//  2. the snapshot is copied into a new database in tables/.tmp-rewrite-...;
//  3. the copy is closed and reopened (which flushes its journal into a
//     table, so that the reopen inside the pause is short) and verified: a
//     strict scan whose records and digest equal the snapshot's;
//  4. catch-up rounds: swap the delta out, take a snapshot, copy the latest
//     value (or the absence) of each key into the copy;
//  5. pause: take the write lock (no write in flight), apply the last delta,
//     close the copy, write its dead estimate, fsync it;
//  6. swap: close the live database, rename tables/<t> to tables/.old-<t>,
//     rename the copy to tables/<t>, fsync tables/, reopen, release the
//     lock (end of pause), delete tables/.old-<t>.
//
// A crash before 6 leaves the live table untouched (the temp dir is removed
// by OpenStore). A crash between the two renames is rolled back by OpenStore
// (.old-<t> renamed back: it holds every acknowledged write, since none is
// acknowledged during the pause); after both, OpenStore deletes .old-<t>.
func (t *Table) rewrite(ctx context.Context, db *leveldb.DB, progress Progress, res *CompactResult) error {
	s := t.store
	tablesPath := filepath.Join(s.root, tablesDir)
	tmp := filepath.Join(tablesPath, tmpPrefix+"rewrite-"+t.name+"-"+randHex(4))
	old := filepath.Join(tablesPath, oldPrefix+t.name)

	dirty := newDirtySet()
	t.mu.Lock()
	if t.closed || !t.isHandle(db) {
		t.mu.Unlock()
		return opErrorf(t.name, "compact", "the database was closed or replaced")
	}
	t.dirty = dirty
	t.mu.Unlock()
	stopTracking := func() {
		t.mu.Lock()
		if t.dirty == dirty {
			t.dirty = nil
		}
		t.mu.Unlock()
	}
	defer stopTracking()

	snap, err := db.GetSnapshot()
	if err != nil {
		return t.fail("compact", err)
	}
	s.failpoint(FPRewriteBeforeCopy)
	var ndb *leveldb.DB
	abort := func(err error) error {
		if ndb != nil {
			ndb.Close()
		}
		os.RemoveAll(tmp)
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			detail := err // named once: the table and op are said outside
			var oe *OpError
			if errors.As(err, &oe) {
				detail = oe.Err
			}
			return opErrorf(t.name, "compact", "%w (%v)", cerr, detail)
		}
		return err
	}
	ndb, err = openDB(tmp, false)
	if err != nil {
		snap.Release()
		return abort(opErrorf(t.name, "compact", "new database: %v", err))
	}
	total := t.deadSnapshot().Live
	copied, err := copyInto(ctx, snap.NewIterator(nil, strictRead()), ndb, total, progress)
	snap.Release()
	if err != nil {
		return abort(t.failCopy("compact", err))
	}
	s.failpoint(FPRewriteAfterCopy)

	// Reopen (flush the journal) and verify against the snapshot.
	err = ndb.Close()
	ndb = nil
	if err == nil {
		ndb, err = openDB(tmp, false)
	}
	if err != nil {
		return abort(opErrorf(t.name, "compact", "reopen copy: %v", err))
	}
	vr, err := scanDB(ctx, ndb, nil, nil)
	if err == nil && (vr.Records != copied.Records || vr.Digest != copied.Digest) {
		err = fmt.Errorf("copy has %d records digest %s, snapshot had %d records digest %s",
			vr.Records, vr.Digest, copied.Records, copied.Digest)
	}
	if err != nil {
		return abort(opErrorf(t.name, "compact", "verify copy: %v", err))
	}
	s.failpoint(FPRewriteAfterVerify)

	live := deadState{Live: copied.Records, LiveBytes: copied.Bytes}
	for round := 0; round < rewriteMaxRounds && dirty.len() > rewriteFinalKeys; round++ {
		if err := ctx.Err(); err != nil {
			return abort(err)
		}
		keys := dirty.take()
		s2, err := db.GetSnapshot()
		if err != nil {
			return abort(t.fail("compact", err))
		}
		err = catchUp(keys, s2, ndb, &live, false)
		s2.Release()
		if err != nil {
			return abort(t.failCopy("compact", err))
		}
	}
	// Flush the copy to disk now, so that the fsync inside the pause has
	// only the last delta to write.
	if err := syncTree(tmp); err != nil {
		return abort(opErrorf(t.name, "compact", "sync copy: %v", err))
	}
	s.failpoint(FPRewriteAfterCatchUp)
	if err := ctx.Err(); err != nil {
		return abort(err)
	}

	// The pause.
	t.mu.Lock()
	pauseStart := time.Now()
	unlock := func() {
		res.PauseMS = msSince(pauseStart)
		t.mu.Unlock()
	}
	if t.closed || !t.isHandle(db) {
		unlock()
		return abort(opErrorf(t.name, "compact", "the database was closed or replaced"))
	}
	if err := catchUp(dirty.take(), db, ndb, &live, true); err != nil {
		unlock()
		return abort(t.failCopy("compact", err))
	}
	t.dirty = nil
	err = ndb.Close()
	ndb = nil
	live.Since = time.Now().UTC()
	if err == nil {
		err = writeDead(tmp, live, false)
	}
	if err == nil && t.posErr != nil {
		// The copy's generation must say where it starts from.
		err = fmt.Errorf("the journal position is not known: %w", t.posErr)
	}
	if err == nil {
		// The copy is the table at its position now: a new generation of
		// the change journal that goes on from it (journal.go).
		err = t.newGeneration(tmp, changelog.Generation{
			From:   changelog.PositionOf(t.gen, t.pos.Load()),
			Reason: "rewrite",
		})
	}
	if err == nil {
		err = syncTree(tmp)
	}
	if err != nil {
		unlock()
		return abort(opErrorf(t.name, "compact", "close copy: %v", err))
	}
	s.failpoint(FPRewritePaused)

	// The swap. From here a failure puts the old directory back. An error
	// closing the old handle does not stop the swap: every write it
	// acknowledged is also in the verified copy (the last delta was applied
	// under the pause), and the handle is unusable either way. It is
	// reported if the swap fails and the old directory must serve again.
	oldCloseErr := t.db.Close()
	t.db = nil
	// The old directory's journals hold the writes since its last flush:
	// into the archive before it goes (a failure keeps it in place).
	sealErr := t.seal(t.dir)
	rollback := func(cause error) error {
		cause = errors.Join(cause, oldCloseErr)
		if ok, _ := exists(t.dir); !ok {
			if rerr := os.Rename(old, t.dir); rerr != nil {
				cause = errors.Join(cause, rerr)
			}
		}
		cause = errors.Join(cause, syncDir(tablesPath), os.RemoveAll(tmp))
		odb, og, cuts, oerr := t.openLive(t.dir)
		if oerr == nil {
			_ = t.install(odb, og) // an error is kept: Position and the next backup's manifest report it
		} else {
			cause = errors.Join(cause, oerr)
		}
		unlock()
		s.reportCuts(t.name, "reopen", cuts)
		if oerr != nil {
			return t.fail("compact", cause)
		}
		return opErrorf(t.name, "compact", "swap: %w", cause)
	}
	if sealErr != nil {
		return rollback(sealErr)
	}
	if err := os.Rename(t.dir, old); err != nil {
		return rollback(err)
	}
	if err := syncDir(tablesPath); err != nil {
		return rollback(err)
	}
	s.failpoint(FPRewriteAfterAside)
	if err := os.Rename(tmp, t.dir); err != nil {
		return rollback(err)
	}
	if err := syncDir(tablesPath); err != nil {
		return rollback(err)
	}
	s.failpoint(FPRewriteAfterSwap)
	nd, ng, _, err := t.openLive(t.dir) // the copy, closed cleanly: no torn tail
	if err != nil {
		// Put the copy back aside and the old directory in place.
		if rerr := os.Rename(t.dir, tmp); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return rollback(err)
	}
	_ = t.install(nd, ng) // an error is kept: Position and the next backup's manifest report it
	t.setDead(live)
	unlock()

	if err := os.RemoveAll(old); err != nil {
		return opErrorf(t.name, "compact", "remove old directory: %w", err)
	}
	if err := syncDir(tablesPath); err != nil {
		return opErrorf(t.name, "compact", "%w", err)
	}
	s.failpoint(FPRewriteDone)
	return nil
}

// catchUp copies the current value (or absence) of each key from src into
// dst and keeps the live counts of dst. With sync the batch is synced.
func catchUp(keys map[string]struct{}, src getter, dst *leveldb.DB, live *deadState, sync bool) error {
	if len(keys) == 0 {
		return nil
	}
	var b leveldb.Batch
	for k := range keys {
		kb := []byte(k)
		v, err := src.Get(kb, nil)
		found := err == nil
		if err != nil && !errors.Is(err, leveldb.ErrNotFound) {
			return err
		}
		old, oerr := dst.Get(kb, nil)
		had := oerr == nil
		if oerr != nil && !errors.Is(oerr, leveldb.ErrNotFound) {
			return &dstError{oerr}
		}
		if had {
			live.Live--
			live.LiveBytes -= int64(len(kb) + len(old))
		}
		if found {
			b.Put(kb, v)
			live.Live++
			live.LiveBytes += int64(len(kb) + len(v))
		} else if had {
			b.Delete(kb)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	if err := dst.Write(&b, &opt.WriteOptions{Sync: sync}); err != nil {
		return &dstError{err}
	}
	return nil
}
