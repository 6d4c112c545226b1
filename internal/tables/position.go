package tables

import (
	"github.com/custodian-dev/custodian/internal/changelog"
)

// A table's position is where its change journal stands: the goleveldb
// sequence number of its last write (see package changelog). goleveldb does
// not export it, so the table keeps it: after every open of a live handle it
// starts from changelog.LastSequence (what the MANIFEST recorded at that
// open), and each successful write adds the number of ops of its batch (a
// put or delete 1, a batch its length, the time ops included). A backup
// reads it with its snapshot while writes are held, so that the backup plus
// the journal after its position is the table. A rewrite, restore or
// salvage starts a new goleveldb database whose positions start anew: a
// position is meaningful within one database (the generations that tie
// them together are issue 10's next step).

// startPosition sets the position from the database in t.dir, just opened
// read-write; t.mu is held (or the table is not shared yet). When the
// MANIFEST cannot be read the position is unknown until the next open: the
// error is kept (Position returns it, a backup records it in its manifest
// as position_error) and returned.
func (t *Table) startPosition() error {
	seq, err := changelog.LastSequence(t.dir)
	if err != nil {
		t.posErr = err
		return err
	}
	t.pos.Store(seq)
	t.openPos = seq
	t.posErr = nil
	return nil
}

// advance moves the position on by the ops of a successful write.
func (t *Table) advance(ops int) { t.pos.Add(uint64(ops)) }

// Position is the table's position, or why it is not known.
func (t *Table) Position() (uint64, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return changelog.PositionOf(t.gen, t.pos.Load()), t.posErr
}
