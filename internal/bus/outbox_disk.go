package bus

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"

	"github.com/custodian-dev/custodian/internal/diskspace"
	"github.com/custodian-dev/custodian/internal/events"
)

// When the outbox's database refuses a write (a full disk: ENOSPC; goleveldb
// then refuses every later write of that handle too, even once space is
// back), the outbox
//
//   - holds the events emitted meanwhile in memory, in order (up to
//     MaxHeldEvents and MaxHeldBytes; beyond that Emit fails), so that
//     commands are still accepted and outcomes still published while NATS
//     takes them; a crash loses the held events (they were never on disk);
//   - keeps publishing, merging the events on disk and those held by
//     sequence, so that the stream gets them in order, once;
//   - remembers the entries published but not deleted (a delete is a write
//     too) and deletes them after the reopen;
//   - reopens the database (from the publisher and from Emit) at most every
//     reopenEvery once the disk has room again (reopenRoom), writes the held
//     events to disk under their sequences (durable again) and deletes the
//     published entries, and then writes to disk again;
//   - reports all of it: Health fails, Stats().Held and WriteFailures, and
//     the metrics custodian_outbox_held and custodian_outbox_write_failures_total.
const (
	MaxHeldEvents = 10_000
	MaxHeldBytes  = 16 << 20
	reopenEvery   = time.Second
	reopenRoom    = 4 << 20
	// publishUnhealthyAfter: publishing has failed without a success for
	// this long: Health fails.
	publishUnhealthyAfter = 10 * time.Second
)

// diskState is the outbox's view of its database. Guarded by Outbox.mu.
type diskState struct {
	err       error     // the write that failed; nil while writes work
	since     time.Time // first failure
	failures  uint64    // failed writes since open
	nextOpen  time.Time // no reopen before this
	held      []heldEvent
	heldBytes int
	// sent are the keys of entries published but not deleted (the delete
	// failed): never published again, deleted after the reopen.
	sent map[uint64][]byte
	// publishFailingSince is the first failed publish since the last
	// success (zero when the last attempt succeeded).
	publishFailingSince time.Time
}

// heldEvent is an event held in memory while the database refuses writes.
type heldEvent struct {
	seq   uint64
	event events.Event
	raw   []byte
}

// diskFailedLocked records a failed write of the database. o.mu is held.
func (o *Outbox) diskFailedLocked(err error) {
	o.disk.failures++
	if o.disk.err == nil {
		o.disk.since = time.Now()
		o.disk.nextOpen = time.Now().Add(reopenEvery)
	}
	o.disk.err = err
}

// holdLocked holds event seq in memory (see above), or fails when the
// memory bound is reached: then seq is a hole. cause is the write error.
// o.mu is held.
func (o *Outbox) holdLocked(seq uint64, e events.Event, raw []byte, cause error) error {
	if len(o.disk.held) >= MaxHeldEvents || o.disk.heldBytes+len(raw) > MaxHeldBytes {
		o.notifyLocked()
		return fmt.Errorf("outbox: emit %s %s: the database refuses writes (%v) and %d events (%d bytes) are already held in memory",
			e.Type, e.ID, cause, len(o.disk.held), o.disk.heldBytes)
	}
	o.disk.held = append(o.disk.held, heldEvent{seq: seq, event: e, raw: raw})
	o.disk.heldBytes += len(raw)
	o.depth++
	o.notifyLocked()
	o.wakeLocked()
	return nil
}

// heldUpTo returns the held events with a sequence up to limit, in order.
func (o *Outbox) heldUpTo(limit uint64) []entry {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []entry
	for _, h := range o.disk.held {
		if h.seq > limit {
			break
		}
		out = append(out, entry{seq: h.seq, event: h.event, raw: h.raw, held: true})
	}
	return out
}

// merge orders the entries read from disk and those held in memory by
// sequence. When the disk batch is full, only held entries before its last
// are taken (the later ones follow disk entries not read yet). A held event
// that is on disk too (its write reached the disk although the call
// failed, e.g. at its fsync) is taken once, from disk; dup lists them.
func merge(disk, held []entry, full bool) (out []entry, dup []uint64) {
	if full && len(disk) > 0 {
		last := disk[len(disk)-1].seq
		n := sort.Search(len(held), func(i int) bool { return held[i].seq > last })
		held = held[:n]
	}
	onDisk := make(map[uint64]bool, len(disk))
	out = append(make([]entry, 0, len(disk)+len(held)), disk...)
	for _, e := range disk {
		onDisk[e.seq] = true
	}
	for _, h := range held {
		if onDisk[h.seq] {
			dup = append(dup, h.seq)
			continue
		}
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out, dup
}

// dropHeld removes a held event (published, or found on disk too).
func (o *Outbox) dropHeld(seq uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for i, h := range o.disk.held {
		if h.seq == seq {
			o.disk.heldBytes -= len(h.raw)
			o.disk.held = append(o.disk.held[:i], o.disk.held[i+1:]...)
			return
		}
	}
}

// markSent remembers an entry published whose delete failed.
func (o *Outbox) markSent(seq uint64, key []byte) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.disk.sent == nil {
		o.disk.sent = map[uint64][]byte{}
	}
	o.disk.sent[seq] = key
}

// wasSent reports whether the entry seq was published already.
func (o *Outbox) wasSent(seq uint64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.disk.sent[seq]
	return ok
}

// reopenDue reports whether the database should be reopened now (it
// refused a write, and no attempt was made for reopenEvery); a true answer
// claims the attempt, so that one caller makes it.
func (o *Outbox) reopenDue() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now()
	if o.disk.err == nil || now.Before(o.disk.nextOpen) {
		return false
	}
	o.disk.nextOpen = now.Add(reopenEvery)
	return true
}

// reopen closes the database (whose writer keeps its failure) and opens it
// again when the disk has room; then, with the database held exclusively
// (no publisher read in between), it deletes the entries published
// meanwhile and writes the held events to disk under their sequences, so
// that they are durable again and published from disk. On success new
// events go to disk again. It returns the reason it could not.
func (o *Outbox) reopen() error {
	if free, err := diskspace.Free(o.dir); err != nil {
		return err
	} else if free < reopenRoom {
		return fmt.Errorf("outbox %s: %d bytes free, a reopen needs %d", o.dir, free, reopenRoom)
	}
	o.dbMu.Lock()
	defer o.dbMu.Unlock()
	var closeErr error
	if o.db != nil {
		closeErr = o.db.Close() // the writer's kept failure, as a rule
		o.db = nil
	}
	db, err := leveldb.OpenFile(o.dir, &opt.Options{})
	if err != nil {
		// Read what is on disk meanwhile, so that publishing goes on.
		ro, rerr := leveldb.OpenFile(o.dir, &opt.Options{ReadOnly: true})
		if rerr == nil {
			o.db = ro
		}
		return fmt.Errorf("outbox %s: reopen: %w", o.dir, errors.Join(err, closeErr, rerr))
	}
	o.db = db

	o.mu.Lock()
	var b leveldb.Batch
	sentSeqs := make([]uint64, 0, len(o.disk.sent))
	for seq, k := range o.disk.sent {
		b.Delete(k)
		sentSeqs = append(sentSeqs, seq)
	}
	heldSeqs := map[uint64]bool{}
	for _, h := range o.disk.held {
		b.Put(eventKey(h.seq), h.raw)
		heldSeqs[h.seq] = true
	}
	sent, held := len(sentSeqs), len(heldSeqs)
	o.mu.Unlock()
	if b.Len() > 0 {
		if err := db.Write(&b, &opt.WriteOptions{Sync: true}); err != nil {
			o.mu.Lock()
			o.diskFailedLocked(err)
			o.mu.Unlock()
			return fmt.Errorf("outbox %s: after the reopen: delete %d published entries, write %d held events: %w", o.dir, sent, held, err)
		}
	}
	o.mu.Lock()
	// Only what was in the batch: Emit may have held another event
	// meanwhile (it goes to disk with the next reopen), and the publisher
	// may have marked or dropped entries it was publishing (its remove
	// deletes a held event's key from disk too).
	for _, seq := range sentSeqs {
		delete(o.disk.sent, seq)
	}
	kept := o.disk.held[:0]
	for _, h := range o.disk.held {
		if heldSeqs[h.seq] {
			o.disk.heldBytes -= len(h.raw)
			continue
		}
		kept = append(kept, h)
	}
	o.disk.held = kept
	if len(kept) > 0 {
		o.mu.Unlock()
		return fmt.Errorf("outbox %s: %d events were held while it reopened; they go to disk with the next reopen", o.dir, len(kept))
	}
	o.disk.err = nil
	o.disk.since = time.Time{}
	o.mu.Unlock()
	return nil
}

// Health is nil while the outbox works: its database takes writes and
// publishing has not failed for publishUnhealthyAfter without a success.
// Otherwise it says what is wrong (with how many events wait).
func (o *Outbox) Health() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var errs []error
	if o.disk.err != nil {
		errs = append(errs, fmt.Errorf("outbox cannot write to disk since %s (%d events held in memory): %v",
			o.disk.since.UTC().Format(time.RFC3339), len(o.disk.held), o.disk.err))
	}
	if f := o.disk.publishFailingSince; !f.IsZero() && time.Since(f) >= publishUnhealthyAfter {
		errs = append(errs, fmt.Errorf("outbox cannot publish since %s (%d events waiting): %s",
			f.UTC().Format(time.RFC3339), o.depth, o.lastErr))
	}
	return errors.Join(errs...)
}

// settle makes the outbox's state durable at Close: when events are held in
// memory or published entries wait to be deleted, the database is reopened
// (which writes and deletes them). It returns an error naming how many
// events are lost when that fails.
func (o *Outbox) settle() error {
	o.mu.Lock()
	held, sent := len(o.disk.held), len(o.disk.sent)
	o.mu.Unlock()
	if held == 0 && sent == 0 {
		return nil
	}
	if err := o.reopen(); err != nil {
		return fmt.Errorf("outbox %s: %d events held in memory are lost (and %d published entries will be published again): %w",
			o.dir, held, sent, err)
	}
	return nil
}
