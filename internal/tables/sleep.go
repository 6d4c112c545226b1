package tables

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/syndtr/goleveldb/leveldb"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/changelog"
	"github.com/custodian-dev/custodian/internal/logtail"
)

// Sleeping tables. A table that is idle is put to sleep: its database is
// closed as Close closes it (the dead estimate saved clean, with the
// table's journal position and maintenance marks), and it holds no
// memtable, cache entry or file. The *Table stays registered and its
// users keep it: the next request that needs the database (a get, put,
// scan, or maintenance that reads it) opens it again first, the way a
// start opens it (torn tails cut, strict open, position), and waits for
// that open. Stats, Position, the marks and Available answer without
// waking it.
//
// The Store bounds how many tables are awake at once (Options.MaxOpen): a
// wake or an open beyond the bound puts the least recently used awake
// tables to sleep, unless they are in use (maintenance running, writes
// failing, a rewrite tracking writes); and a Store with that many tables
// awake registers a table it opens, if its directory says it was closed
// cleanly, asleep without opening it (a start with many tables costs a
// file read per table beyond the bound).

// errAsleep is handleLocked's answer for a sleeping table: the caller
// wakes it and tries again. It never leaves the package.
var errAsleep = errors.New("table is asleep")

// touch records a use of the table (the idle clock and the LRU order).
func (t *Table) touch() { t.lastUse.Store(time.Now().UnixNano()) }

// Asleep reports whether the table's database is closed because it was
// idle (it opens again on the next request).
func (t *Table) Asleep() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.asleep
}

// IdleFor is how long ago the table was last used.
func (t *Table) IdleFor() time.Duration {
	return time.Since(time.Unix(0, t.lastUse.Load()))
}

// readHandle takes t.mu for reading and returns the handle a read goes
// through, after waking the table if it sleeps. On error t.mu is not held.
func (t *Table) readHandle(ctx context.Context) (*leveldb.DB, error) {
	return t.liveHandle(ctx, nil)
}

// liveHandle is readHandle with a check first: before, called with t.mu
// held for reading, returns with it held (nil) or released (an error,
// returned as the answer).
func (t *Table) liveHandle(ctx context.Context, before func() error) (*leveldb.DB, error) {
	for {
		t.mu.RLock()
		if before != nil {
			if err := before(); err != nil {
				return nil, err
			}
		}
		db, err := t.handleLocked()
		if err == nil {
			t.touch()
			return db, nil
		}
		t.mu.RUnlock()
		if !errors.Is(err, errAsleep) {
			return nil, err
		}
		if err := t.wake(ctx); err != nil {
			return nil, err
		}
	}
}

// wake opens a sleeping table's database. A corruption found by the open
// makes the table unavailable (reason corrupted) and is reported as every
// corruption is; another error leaves it asleep (the next request tries
// again). Beyond the store's bound, least recently used tables are put
// to sleep afterwards.
func (t *Table) wake(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cuts, woke, err := t.wakeLocked(ctx)
	t.store.reportCuts(t.name, "open", cuts)
	if err != nil {
		return t.fail("open", err)
	}
	if woke {
		t.store.enforceBound(t)
	}
	return nil
}

func (t *Table) wakeLocked(ctx context.Context) ([]logtail.Cut, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.asleep || t.closed || t.reason != "" {
		return nil, false, nil
	}
	// A sleeping table has a database: were its files gone (a directory
	// removed by hand), openLive would create an empty one and serve it.
	if ok, err := hasFiles(t.dir); err != nil || !ok {
		if err == nil {
			t.asleep = false
			t.reason = ReasonCorrupted
			err = corrupted("%s: the database of the sleeping table is missing", t.dir)
		}
		return nil, false, err
	}
	h, g, cuts, err := t.openLive(t.dir)
	if err != nil {
		if IsCorruption(err) {
			t.asleep = false
			t.reason = ReasonCorrupted
		}
		if faultCode(err) == apierr.NoSpace && !IsCorruption(err) {
			// The open must write (a table file, a MANIFEST): on a full
			// disk reads go on from a read-only open, writes answer
			// no_space until Heal reopens it (writefault.go).
			if ro, rerr := openDB(t.dir, true); rerr == nil {
				t.db = &handle{DB: ro}
				t.asleep = false
				t.fault = newWriteFault(fmt.Errorf("open: %w", err), apierr.NoSpace)
				t.touch()
				return cuts, true, nil
			}
		}
		return cuts, false, err
	}
	prev := changelog.PositionOf(t.gen, t.pos.Load())
	t.asleep = false
	if err := t.install(h, g); err != nil {
		t.closeHandleLocked()
		t.asleep = true
		return cuts, false, fmt.Errorf("journal position: %w", err)
	}
	// The marks in memory are the newest: one made while the table slept
	// is not in the sidecar its sleep wrote.
	marks := t.deadSnapshot().Marks
	if err := t.loadDead(ctx); err != nil {
		t.closeHandleLocked()
		if IsCorruption(err) {
			t.reason = ReasonCorrupted
		} else {
			t.asleep = true
		}
		return cuts, false, err
	}
	t.deadMu.Lock()
	t.dead.Marks = marks
	t.deadMu.Unlock()
	t.carryMarks(prev)
	t.touch()
	return cuts, true, nil
}

// closeHandleLocked closes a handle that failed to become the table's
// (its error is the one returned beside it).
func (t *Table) closeHandleLocked() {
	if t.db != nil {
		_ = t.db.Close() // the open's error is what the caller returns
		t.db = nil
	}
}

// Sleep puts the table to sleep when it has been idle for at least idle
// and nothing holds it (maintenance running, writes failing, a rewrite
// tracking writes). It reports whether it did. An error is the close's:
// the table is asleep all the same (its next open checks the database).
func (t *Table) Sleep(idle time.Duration) (bool, error) {
	return t.sleep(idle, false)
}

// sleep is Sleep; grow: the next open uses the big write buffer
// (growIfBusy).
func (t *Table) sleep(idle time.Duration, grow bool) (bool, error) {
	if !t.opMu.TryLock() {
		return false, nil
	}
	defer t.opMu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || t.asleep || t.reason != "" || t.db == nil || t.fault != nil || t.dirty != nil {
		return false, nil
	}
	if t.IdleFor() < idle {
		return false, nil
	}
	t.asleep = true
	t.busy = t.busy || grow
	t.recent.forget()
	if err := t.closeDBLocked(); err != nil {
		return true, opErrorf(t.name, "sleep", "%w", err)
	}
	return true, nil
}

// awake reports whether the table's database is open (a table in the
// middle of a swap counts as open).
func (t *Table) awake() bool {
	if !t.mu.TryRLock() {
		return true
	}
	defer t.mu.RUnlock()
	return !t.closed && !t.asleep && t.db != nil
}

// Awake is how many of the store's tables have their database open.
func (s *Store) Awake() int {
	n := 0
	for _, t := range s.registered() {
		if t.awake() {
			n++
		}
	}
	return n
}

// registered lists the store's tables.
func (s *Store) registered() []*Table {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := make([]*Table, 0, len(s.tables))
	for _, t := range s.tables {
		ts = append(ts, t)
	}
	return ts
}

// enforceBound puts the least recently used awake tables (but keep) to
// sleep while more than Options.MaxOpen are awake. The errors of their
// closes are kept for SleepIdle to return (they are not keep's).
func (s *Store) enforceBound(keep *Table) {
	if s.opts.MaxOpen <= 0 {
		return
	}
	// Only tables used before keep's wake are put to sleep: one woken
	// (or used) since is left to its own wake's enforcement (or the next
	// sweep's, SleepIdle), or a wake would undo another's before its
	// request could use it (with more tables in use at once than the
	// bound, every request woke its table many times over). keep nil:
	// every table may go.
	since, room := int64(math.MaxInt64), s.opts.MaxOpen
	if keep != nil {
		since, room = keep.lastUse.Load(), room-1
	}
	var open []*Table
	awake := 0
	for _, t := range s.registered() {
		if t == keep || !t.awake() {
			continue
		}
		awake++
		if t.lastUse.Load() <= since {
			open = append(open, t)
		}
	}
	over := awake - room
	if over <= 0 {
		return
	}
	sort.Slice(open, func(i, j int) bool { return open[i].lastUse.Load() < open[j].lastUse.Load() })
	var errs []error
	for _, t := range open {
		if over == 0 {
			break
		}
		slept, err := t.Sleep(0)
		if err != nil {
			errs = append(errs, err)
		}
		if slept {
			over--
		}
	}
	if len(errs) > 0 {
		s.sleepMu.Lock()
		s.sleepErrs = append(s.sleepErrs, errs...)
		s.sleepMu.Unlock()
	}
}

// SleepIdle puts every table idle for at least idle to sleep, and reopens
// with the big write buffer the tables that wrote fast since they were
// opened with the small one (sizing.go). It returns how many it put to
// sleep, and the errors of closes (those tables sleep all the same).
func (s *Store) SleepIdle(ctx context.Context, idle time.Duration) (int, error) {
	n := 0
	s.sleepMu.Lock()
	errs := s.sleepErrs
	s.sleepErrs = nil
	s.sleepMu.Unlock()
	for _, t := range s.registered() {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		slept, err := t.Sleep(idle)
		if err != nil {
			errs = append(errs, err)
		}
		if slept {
			n++
			continue
		}
		if err := t.growIfBusy(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	s.enforceBound(nil) // what wakes left over the bound (see enforceBound)
	return n, errors.Join(errs...)
}

// growIfBusy reopens a table opened with the small write buffer that wrote
// Options.BusyBytes since, with the big one (a pause of one reopen).
func (t *Table) growIfBusy(ctx context.Context) error {
	if t.written.Load() < int64(t.store.opts.BusyBytes) || t.isBusySized() {
		return nil
	}
	slept, err := t.sleep(0, true)
	if err != nil || !slept {
		return err // not slept: in use, the next sweep tries again
	}
	return t.wake(ctx)
}

func (t *Table) isBusySized() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.busy
}
