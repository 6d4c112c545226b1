package tables

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/syndtr/goleveldb/leveldb"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/diskspace"
)

// Healing after a failed write. goleveldb keeps the first error of its
// journal writer: after a write failed (ENOSPC half way through a record,
// EIO), every later write of that handle fails with it, even once space is
// back. The table therefore records the fault and reopens its handle (as a
// swap does), which cuts the half-written record (see openLive) and starts a
// fresh journal, once the disk has room for that again.
const (
	// reopenRoom is the free space a reopen needs before it is tried:
	// goleveldb writes the replayed journal into a level-0 table (up to
	// its write buffer, 4 MiB), a new MANIFEST and a new journal.
	reopenRoom = 8 << 20
	// healBackoffMin and healBackoffMax space the reopen attempts of a
	// table whose writes fail.
	healBackoffMin = 250 * time.Millisecond
	healBackoffMax = 2 * time.Second
)

// writeFault is the state of a table whose writes fail.
// newWriteFault is a fault that starts now: the first reopen after the
// shortest backoff.
func newWriteFault(err error, code apierr.Code) *writeFault {
	now := time.Now()
	return &writeFault{err: err, code: code, since: now, next: now.Add(healBackoffMin), wait: healBackoffMin}
}

type writeFault struct {
	err   error // the write error (the latest reopen error after a failed reopen)
	code  apierr.Code
	since time.Time // first failure
	next  time.Time // no reopen before this
	wait  time.Duration
	tries int
}

// WriteFault describes a table whose writes fail (Table.WriteFault).
type WriteFault struct {
	Code  apierr.Code // apierr.NoSpace when the disk is full, apierr.Internal otherwise
	Err   string
	Since time.Time
	Tries int // reopen attempts so far
}

// faultCode is the code a write error answers: no_space for ENOSPC (and
// EDQUOT, a quota that is full), internal otherwise.
func faultCode(err error) apierr.Code {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return apierr.NoSpace
	}
	return apierr.Internal
}

// isWriteFault reports whether err, returned by a write of goleveldb, leaves
// the handle refusing writes: any error but a corruption (handled as a
// detection) and a closed database.
func isWriteFault(err error) bool {
	return err != nil && !IsCorruption(err) && !errors.Is(err, leveldb.ErrClosed)
}

// refusal is the answer to a write while the fault lasts.
func (f *writeFault) refusal(table, op string) error {
	if f.code == apierr.NoSpace {
		return apierr.Wrap(apierr.NoSpace, f.err, "table %s: %s: writes fail for lack of disk space since %s (reads go on; writes work again once space is freed)",
			table, op, f.since.UTC().Format(time.RFC3339))
	}
	return apierr.Wrap(apierr.Internal, f.err, "table %s: %s: writes fail since %s", table, op, f.since.UTC().Format(time.RFC3339))
}

// WriteFault reports whether the table's writes fail (ok) and why.
func (t *Table) WriteFault() (WriteFault, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	f := t.fault
	if f == nil {
		return WriteFault{}, false
	}
	return WriteFault{Code: f.code, Err: f.err.Error(), Since: f.since, Tries: f.tries}, true
}

// writeFailed records that a write through db failed with err (a write
// fault, see isWriteFault), unless the handle was replaced meanwhile, and
// returns the answer to the write. The table keeps serving reads; writes
// answer the refusal until Heal reopens the handle. Options.OnWriteFault
// hears of a fault when it starts.
func (t *Table) writeFailed(db *leveldb.DB, op string, err error) error {
	t.mu.Lock()
	started := false
	if t.isHandle(db) && t.fault == nil {
		t.fault = newWriteFault(err, faultCode(err))
		started = true
	}
	f := t.fault
	var refusal error
	if f != nil {
		refusal = f.refusal(t.name, op)
	} else {
		refusal = apierr.Wrap(faultCode(err), err, "table %s: %s", t.name, op)
	}
	t.mu.Unlock()
	if started && t.store.opts.OnWriteFault != nil {
		t.store.opts.OnWriteFault(t.name, refusal)
	}
	return refusal
}

// writeHandle takes t.mu for reading and returns the handle a write goes
// through (the caller releases t.mu). While the table's writes fail it
// first asks Heal to reopen the handle and answers the fault's refusal
// when that cannot be done yet. The fault is checked in the write's own
// critical section: no extra lock on the hot path. On error t.mu is not
// held.
func (t *Table) writeHandle(ctx context.Context, op string) (*leveldb.DB, error) {
	return t.liveHandle(ctx, func() error {
		if t.fault == nil {
			return nil
		}
		t.mu.RUnlock()
		if err := t.Heal(); err != nil {
			return t.refuse(op, err)
		}
		t.mu.RLock()
		return nil
	})
}

// refuse turns Heal's error into the answer to a write op: the fault's
// refusal, named after op, while the fault lasts; a corruption the reopen
// found answers apierr.TableUnavailable, as every data-plane request does
// while the table is restored.
func (t *Table) refuse(op string, err error) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.fault != nil {
		return t.fault.refusal(t.name, op)
	}
	if IsCorruption(err) {
		return apierr.Wrap(apierr.TableUnavailable, err, "table %s: %s: corruption detected on reopen; the table is unavailable while it is restored", t.name, op)
	}
	return err
}

// Heal reopens the handle of a table whose writes fail, at most once per
// backoff (250 ms doubling to 2 s) and only when the disk has room for it
// (reopenRoom). It returns nil when the table takes writes again (also when
// it had no fault), the fault's refusal while it lasts, and a corruption
// (reported as every corruption is) when the reopen found one. While the
// read-write open fails, the table serves reads from a read-only handle.
// Writes call it; so does the supervisor, every second, while a table's
// writes fail, so that the fault clears without a write. An attempt is
// skipped while maintenance works on the table (it holds the handle); a
// swap by that maintenance (rewrite, restore) clears the fault itself.
func (t *Table) Heal() error {
	if !t.opMu.TryLock() {
		t.mu.RLock()
		defer t.mu.RUnlock()
		if t.fault == nil {
			return nil
		}
		return t.fault.refusal(t.name, "reopen")
	}
	defer t.opMu.Unlock()
	t.mu.Lock()
	f := t.fault
	if f == nil || t.closed {
		t.mu.Unlock()
		return nil
	}
	now := time.Now()
	if now.Before(f.next) {
		defer t.mu.Unlock()
		return f.refusal(t.name, "reopen")
	}
	f.tries++
	f.wait = min(2*f.wait, healBackoffMax)
	f.next = now.Add(f.wait)
	if free, err := diskspace.Free(t.dir); err == nil && free < reopenRoom {
		defer t.mu.Unlock()
		return f.refusal(t.name, "reopen")
	}
	var closeErr error
	if t.db != nil {
		closeErr = t.db.Close() // the handle's sticky write error, as a rule
		t.db = nil
	}
	db, g, cuts, err := t.openLive(t.dir)
	switch {
	case err == nil:
		perr := t.install(db, g)
		// The sidecar says "not clean" before the table takes a write (see
		// dead.go): a table woken read-only on a full disk still has the
		// clean one its sleep wrote.
		if serr := t.saveDead(true); serr != nil {
			f.err = fmt.Errorf("reopen: %w", serr)
			t.fault = f
			refusal := f.refusal(t.name, "reopen")
			t.mu.Unlock()
			t.store.reportCuts(t.name, "reopen", cuts)
			return refusal
		}
		t.mu.Unlock()
		t.store.reportCuts(t.name, "reopen", cuts)
		if perr != nil {
			return opErrorf(t.name, "reopen", "journal position unknown: %w", perr)
		}
		return nil
	case IsCorruption(err):
		t.reason = ReasonCorrupted
		t.fault = nil
		t.mu.Unlock()
		t.store.reportCuts(t.name, "reopen", cuts)
		return t.fail("reopen", err)
	}
	// The disk refused the open (still full?): serve reads from a
	// read-only handle meanwhile; writes keep answering the refusal.
	f.err = fmt.Errorf("reopen: %w", errors.Join(err, closeErr))
	if f.code != apierr.NoSpace {
		f.code = faultCode(err)
	}
	ro, rerr := openDB(t.dir, true)
	if rerr == nil {
		t.db = &handle{DB: ro}
	} else {
		f.err = errors.Join(f.err, fmt.Errorf("read-only open: %w", rerr))
	}
	refusal := f.refusal(t.name, "reopen")
	t.mu.Unlock()
	t.store.reportCuts(t.name, "reopen", cuts)
	return refusal
}

// FreeBytes is the space left for writing on the file system of the data
// directory.
func (s *Store) FreeBytes() (int64, error) { return diskspace.Free(s.root) }
