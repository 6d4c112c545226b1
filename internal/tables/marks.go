package tables

import (
	"maps"

	"github.com/custodian-dev/custodian/internal/changelog"
)

// Maintenance marks. A mark is the journal position at which a piece of
// maintenance (named by the caller: "compact", "backup", "verify") last
// succeeded on the table. It is kept with the dead estimate,
// so it survives sleep and, after a clean close, a restart; a rewrite,
// restore or salvage (a new database) drops the marks. The supervisor
// reads them to leave a sleeping table that has not changed since its last
// maintenance asleep (Table.Unchanged).

// Mark records that the named maintenance succeeded on the table as it
// stood at pos (a Position read before the work started: writes made while
// it ran move the position past the mark, so the table counts as changed).
func (t *Table) Mark(name string, pos uint64) {
	t.mu.RLock()
	if t.wokeTo != 0 && pos == t.wokeFrom {
		// Read before a wake that only stepped over recovery's unused
		// sequence number (carryMarks): the same state as after it.
		pos = t.wokeTo
	}
	t.mu.RUnlock()
	t.deadMu.Lock()
	defer t.deadMu.Unlock()
	m := maps.Clone(t.dead.Marks)
	if m == nil {
		m = map[string]uint64{}
	}
	m[name] = pos
	t.dead.Marks = m
}

// Unchanged reports whether the table is asleep and has taken no write
// since the named maintenance last succeeded on it.
func (t *Table) Unchanged(name string) bool {
	t.mu.RLock()
	asleep, pos, err := t.asleep && t.reason == "", changelog.PositionOf(t.gen, t.pos.Load()), t.posErr
	t.mu.RUnlock()
	if !asleep || err != nil {
		return false
	}
	t.deadMu.Lock()
	defer t.deadMu.Unlock()
	m, ok := t.dead.Marks[name]
	return ok && m == pos
}

// carryMarks moves the marks at prev, the position before a reopen, to the
// position after it when the reopen only stepped over the one sequence
// number goleveldb's recovery leaves unused (changelog.Journal.WantSlack):
// a table woken by a read has not changed. A mark made later at prev (a
// position read before the wake) is moved the same way (Mark). t.mu is
// held.
func (t *Table) carryMarks(prev uint64) {
	now := changelog.PositionOf(t.gen, t.pos.Load())
	if t.posErr != nil || now != prev+1 {
		return
	}
	t.wokeFrom, t.wokeTo = prev, now
	t.deadMu.Lock()
	defer t.deadMu.Unlock()
	m := maps.Clone(t.dead.Marks)
	for k, v := range m {
		if v == prev {
			m[k] = now
		}
	}
	t.dead.Marks = m
}
