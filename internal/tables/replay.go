package tables

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/syndtr/goleveldb/leveldb"

	"github.com/custodian-dev/custodian/internal/changelog"
)

// replayed is what a replay of the journal onto a backup brought back.
type replayed struct {
	changelog.ReplayResult
	// Root: the result does not continue the journal's history (a backup
	// without a position, or one the current history does not contain):
	// its generation starts a new history.
	Root bool
}

// currentGeneration is the generation of the table's current state: the
// live directory's, or, when there is none (moved to quarantine) or its
// record cannot be read, the newest committed one the archive records
// (a generation whose rewrite or restore never committed is never it).
func (t *Table) currentGeneration() (uint64, error) {
	ok, err := exists(t.dir)
	if err != nil {
		return 0, err
	}
	if ok {
		if g, err := changelog.ReadGeneration(t.dir); err == nil {
			return g.Number, nil
		}
	}
	g, err := changelog.CurrentGeneration(t.store.journalPath(t.name))
	if err != nil {
		return 0, err
	}
	return g.Number, nil
}

// reached is the position the table is known to have reached in
// generation cur: its position when it served in this process, else what
// its MANIFEST recorded; 0 when neither is known.
// A position read from the MANIFEST at an open may be one past the last
// write (see changelog.Replay.WantSlack): slack says so.
func (t *Table) reached(cur uint64) (pos, slack uint64) {
	t.mu.RLock()
	gen, seq, opened := t.gen, t.pos.Load(), t.openPos
	t.mu.RUnlock()
	if gen == cur && seq > 0 {
		if seq == opened {
			slack = 1
		}
		return changelog.PositionOf(gen, seq), slack
	}
	if seq, err := changelog.LastSequence(t.dir); err == nil && seq > 0 {
		return changelog.PositionOf(cur, seq), 1
	}
	return 0, 0
}

// replayInto applies the journal's writes after the backup m's position
// into the closed database in dir (up to at, when not zero; up to to, when
// not 0). Writes must be stopped (the table does not serve, or to is a
// position taken under the write lock). scratch is a directory the replay
// may use and removes.
func (t *Table) replayInto(ctx context.Context, dir, scratch string, m Manifest, r changelog.Replay, progress Progress) (replayed, error) {
	if m.Position == nil {
		why := m.PositionError
		if why == "" {
			why = "it was taken before the change journal"
		}
		return replayed{Root: true, ReplayResult: changelog.ReplayResult{
			Lost: fmt.Sprintf("backup %s has no journal position (%s): writes after it cannot be replayed", m.ID, why),
		}}, nil
	}
	r.From = *m.Position
	cur, err := t.currentGeneration()
	if err != nil {
		return replayed{}, err
	}
	if r.To == 0 && r.At.IsZero() {
		r.Want, r.WantSlack = t.reached(cur)
	}
	defer os.RemoveAll(scratch)
	j, err := t.pinJournal(scratch, cur)
	if err != nil {
		return replayed{}, fmt.Errorf("pin the journal: %w", err)
	}
	db, err := openDB(dir, false)
	if err != nil {
		return replayed{}, &dstError{err}
	}
	var b leveldb.Batch
	size := 0
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		err := db.Write(&b, bulkWrite())
		b.Reset()
		size = 0
		if err != nil {
			return &dstError{err}
		}
		return nil
	}
	var n int64
	res, err := j.Replay(r, func(op changelog.Op) error {
		if op.Kind == "delete" {
			b.Delete(op.Key)
		} else {
			b.Put(op.Key, op.Value)
		}
		size += len(op.Key) + len(op.Value)
		n++
		if size < copyBatchBytes {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if progress != nil {
			progress(n, 0, "writes")
		}
		return flush()
	})
	if err == nil {
		err = flush()
	}
	if cerr := db.Close(); err == nil && cerr != nil {
		err = &dstError{cerr}
	}
	out := replayed{ReplayResult: res}
	if errors.Is(err, changelog.ErrNotOnLineage) && r.At.IsZero() {
		// Served as the backup alone, saying what it could not bring back.
		out.Root = true
		out.Lost = fmt.Sprintf("backup %s: %v: the journal after it cannot be replayed", m.ID, err)
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("replay the journal: %w", err)
	}
	return out, nil
}

// scratchDir is a new scratch directory name beside the tables.
func (s *Store) scratchDir(kind, name string) string {
	return filepath.Join(s.root, tablesDir, tmpPrefix+kind+"-"+name+"-"+randHex(4))
}

// InHistory reports whether the backup m is in the history of the table's
// current state: it has a journal position and the journal leads from it
// to the table as it is (a restore to an earlier time leaves the backups
// taken after that time out of it; a salvage leaves all earlier ones out).
// A restore from a backup outside it serves the backup alone.
func (t *Table) InHistory(m Manifest) (bool, error) {
	if m.Position == nil {
		return false, nil
	}
	j, err := t.Journal()
	if err != nil {
		return false, err
	}
	ok, err := j.Contains(*m.Position)
	if err != nil {
		return false, opErrorf(t.name, "journal history", "backup %s: %w", m.ID, err)
	}
	return ok, nil
}
