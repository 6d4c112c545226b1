package tables

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/syndtr/goleveldb/leveldb"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// Reasons a table does not serve (Available's reason).
const (
	ReasonCorrupted   = "corrupted"   // open met a corruption
	ReasonQuarantined = "quarantined" // the live directory was moved to quarantine
	ReasonRestoring   = "restoring"   // set by the supervisor while it restores
	ReasonDegraded    = "degraded"    // set by the supervisor when no backup is good
	ReasonClosed      = "closed"      // Close was called
)

// Table is one live goleveldb database whose handle can be swapped under a
// lock (compaction by rewrite, restore, salvage) while the *Table stays the
// same for its users.
//
// Locking: mu guards db, reason, closed, dirty and fault. Data-plane calls hold
// mu.RLock for the duration of their goleveldb call; a swap holds mu.Lock
// (that is the write pause). Maintenance work (compact, backup, verify,
// quarantine, restore, salvage) is serialized by opMu and holds mu only to
// take a handle or a snapshot and to swap.
type Table struct {
	store *Store
	name  string
	dir   string

	opMu sync.Mutex

	mu     sync.RWMutex
	db     *handle
	gen    uint64 // the live database's generation (changelog.Generation)
	reason string // "" when serving
	closed bool
	asleep bool        // closed because idle: the next request opens it (sleep.go)
	busy   bool        // opened with the big write buffer (sizing.go)
	dirty  *dirtySet   // non-nil while a rewrite tracks writes
	fault  *writeFault // non-nil while writes fail (writefault.go)

	deadMu  sync.Mutex
	dead    deadState
	unsaved int // changes to dead since the last save

	recent recentLens // the last writes' value lengths, for the dead estimate

	lastUse atomic.Int64 // Unix ns of the last request (sleep.go)
	written atomic.Int64 // bytes written since the handle was opened (sizing.go)

	lastTimed atomic.Int64 // Unix ns of the last write that carried its time (writetime.go)

	journalMu  sync.Mutex            // held while a journal moves into the archive (journal.go)
	journalErr atomic.Pointer[error] // why the last flushed journal could not be archived
	tableHold  tableHold             // table files a backup copies (backupfiles.go)

	pos     atomic.Uint64 // the change journal's position (position.go)
	posErr  error         // why pos is not known; guarded by mu
	openPos uint64        // pos when the handle was opened; guarded by mu

	// wokeFrom and wokeTo are the positions before and after the last wake
	// that only stepped over recovery's unused sequence number (marks.go);
	// guarded by mu.
	wokeFrom, wokeTo uint64
}

// Name is the table's name.
func (t *Table) Name() string { return t.name }

// Dir is the live database directory (tables/<name>).
func (t *Table) Dir() string { return t.dir }

// Available reports whether the table serves requests; when it does not,
// the reason says why ("corrupted", "quarantined", "restoring", "degraded",
// "closed", or what SetUnavailable was given).
func (t *Table) Available() (ok bool, reason string) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return false, ReasonClosed
	}
	if t.reason != "" {
		return false, t.reason
	}
	if t.db == nil && !t.asleep {
		return false, ReasonCorrupted
	}
	return true, ""
}

// SetUnavailable stops the table serving: every request answers
// apierr.TableUnavailable with reason until the table serves again
// (SetAvailable, or a successful RestoreFrom or Salvage).
func (t *Table) SetUnavailable(reason string) {
	if reason == "" {
		reason = "unavailable"
	}
	t.mu.Lock()
	t.reason = reason
	t.mu.Unlock()
}

// SetAvailable makes the table serve again after SetUnavailable. It fails
// (apierr.TableUnavailable) when there is no open database to serve.
func (t *Table) SetAvailable() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || (t.db == nil && !t.asleep) {
		return apierr.New(apierr.TableUnavailable, "table %s: no open database to serve", t.name)
	}
	t.reason = ""
	return nil
}

func (t *Table) isClosed() bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.closed
}

// handleLocked returns the database to serve a request, or a
// TableUnavailable error (also while the store is halted, see Store.Halt).
// t.mu must be held (read or write).
func (t *Table) handleLocked() (*leveldb.DB, error) {
	if err := t.store.haltedErr(t.name); err != nil {
		return nil, err
	}
	switch {
	case t.closed:
		return nil, apierr.New(apierr.TableUnavailable, "table %s is closed", t.name)
	case t.reason != "":
		return nil, apierr.New(apierr.TableUnavailable, "table %s is unavailable: %s", t.name, t.reason)
	case t.asleep:
		return nil, errAsleep
	case t.db == nil:
		return nil, apierr.New(apierr.TableUnavailable, "table %s has no open database", t.name)
	}
	return t.db.DB, nil
}

// maintHandle returns the open database for maintenance work, which runs
// also while the table is marked unavailable (a verify or backup of a table
// the supervisor has paused), but needs an open database: a sleeping table
// is woken first. The caller holds opMu (so the table cannot fall asleep
// again).
func (t *Table) maintHandle(ctx context.Context) (*leveldb.DB, error) {
	for {
		t.mu.RLock()
		closed, asleep, reason, h := t.closed, t.asleep, t.reason, t.db
		t.mu.RUnlock()
		switch {
		case closed:
			return nil, apierr.New(apierr.TableUnavailable, "table %s is closed", t.name)
		case asleep && reason == "":
			if err := t.wake(ctx); err != nil {
				return nil, err
			}
			continue
		case h == nil:
			return nil, apierr.New(apierr.TableUnavailable, "table %s has no open database (%s)", t.name, reason)
		}
		t.touch()
		return h.DB, nil
	}
}

// Close closes the database and then saves the dead-record estimate,
// marked clean (see dead.go) when the database closed without error (and,
// with Options.NoSync, its files were fsynced). Later calls answer
// apierr.TableUnavailable; Store.Open opens the table anew.
func (t *Table) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if err := t.closeDBLocked(); err != nil {
		return opErrorf(t.name, "close", "%w", err)
	}
	return nil
}

// closeDBLocked closes the open database (none: nothing to do) and saves
// the dead estimate, clean when the close was, with the journal position
// and the maintenance marks (a sleeping table is registered from them at
// the next start, see Store.open). t.mu is held.
func (t *Table) closeDBLocked() error {
	if t.db == nil {
		return nil
	}
	var errs []error
	clean := true
	if err := t.db.Close(); err != nil {
		errs = append(errs, err)
		clean = false
	} else if t.store.opts.NoSync {
		// The journal holds writes that were never fsynced: a clean
		// shutdown makes them durable.
		if err := syncTree(t.dir); err != nil {
			errs = append(errs, err)
			clean = false
		}
	}
	t.db = nil
	// No write is in flight (t.mu is held): the estimate is final.
	d := t.deadSnapshot()
	d.Clean = clean
	d.Generation, d.Position, d.PositionKnown = 0, 0, false
	if clean && t.posErr == nil {
		d.Generation, d.Position, d.PositionKnown = t.gen, t.pos.Load(), true
	}
	if err := writeDead(t.dir, d, true); err != nil {
		errs = append(errs, fmt.Errorf("save dead estimate: %w", err))
	}
	return errors.Join(errs...)
}
