package bus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/util"

	"github.com/custodian-dev/custodian/internal/events"
)

// Publisher timings.
const (
	publishAttemptTimeout = 5 * time.Second
	publishBackoffMin     = 50 * time.Millisecond
	publishBackoffMax     = 5 * time.Second
	readBatch             = 256
)

// entry is one waiting event: on disk under key, or held in memory (see
// outbox_disk.go).
type entry struct {
	seq   uint64
	key   []byte
	event events.Event
	raw   []byte
	held  bool
}

// Run publishes waiting events in order until ctx ends: one sync JetStream
// publish per event with Nats-Msg-Id = event id, the entry deleted only
// after the PubAck. While NATS is unreachable it retries the same event
// with backoff and never skips ahead. A failure of the database (reading
// the queue, deleting a published entry) does not stop it: it is recorded
// (Health, Stats), the database is reopened once the disk has room, and
// publishing goes on meanwhile from what it can read and from the events
// held in memory (see outbox_disk.go). It returns nil when ctx ends, and an
// error only when it is already running or closed.
func (o *Outbox) Run(ctx context.Context, js jetstream.JetStream) error {
	o.mu.Lock()
	if o.running || o.closed {
		o.mu.Unlock()
		return fmt.Errorf("outbox %s: run: already running or closed", o.dir)
	}
	o.running = true
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.running = false
		o.mu.Unlock()
	}()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		if o.reopenDue() {
			if err := o.reopen(); err != nil {
				o.noteError(err)
			}
		}
		batch, err := o.readBatch()
		if err != nil {
			o.noteError(err)
		}
		if len(batch) == 0 {
			if o.diskFailing() || err != nil {
				retry.Reset(reopenEvery)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-o.wake:
			case <-retry.C:
			}
			retry.Stop()
			continue
		}
		for _, ent := range batch {
			ack, err := o.publish(ctx, js, ent)
			if err != nil {
				return nil // ctx ended; the entry stays for the next run
			}
			o.remove(ent, ack)
		}
	}
}

// noteError records a failure of the database seen by the publisher.
func (o *Outbox) noteError(err error) {
	o.mu.Lock()
	o.lastErr = err.Error()
	o.mu.Unlock()
}

// diskFailing reports whether the database refuses writes.
func (o *Outbox) diskFailing() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.disk.err != nil
}

// readBatch reads up to readBatch waiting entries from the head of the
// queue. Entries that cannot be decoded are moved aside under x<seq> (kept
// on disk, counted in Stats().Parked) so that they cannot block the queue.
//
// The batch is merged by sequence with the events held in memory (see
// outbox_disk.go), read under the same hold of the database as the disk
// entries, so that a reopen writing the held events to disk cannot make one
// be missed or read twice; entries published already (whose delete failed)
// are left out. When the database cannot be read (no handle after a failed
// reopen), nothing is returned: the held events wait, since whether an
// earlier entry is on disk is not known.
func (o *Outbox) readBatch() ([]entry, error) {
	o.mu.Lock()
	limit := o.committed
	o.mu.Unlock()
	o.dbMu.RLock()
	disk, err := o.readDiskLocked(limit)
	var held []entry
	if err == nil {
		held = o.heldUpTo(limit)
	}
	o.dbMu.RUnlock()
	if err != nil {
		return nil, err
	}
	out, dup := merge(disk, held, len(disk) >= readBatch)
	for _, seq := range dup {
		o.dropHeld(seq) // counted once in depth: the failed write did not count it
	}
	return out, nil
}

// readDiskLocked reads up to readBatch entries with a sequence up to limit.
// o.dbMu is held for reading.
func (o *Outbox) readDiskLocked(limit uint64) ([]entry, error) {
	if o.db == nil {
		return nil, errOutboxDBClosed
	}
	it := o.db.NewIterator(util.BytesPrefix([]byte(keyEventPrefix)), nil)
	defer it.Release()
	var out []entry
	for len(out) < readBatch && it.Next() && seqOf(it.Key()) <= limit {
		seq := seqOf(it.Key())
		if o.wasSent(seq) {
			continue
		}
		raw := append([]byte(nil), it.Value()...)
		key := append([]byte(nil), it.Key()...)
		e, err := events.Unmarshal(raw)
		if err == nil {
			err = validateEvent(e)
		}
		if err != nil {
			if perr := o.park(key, raw, err); perr != nil {
				return nil, perr
			}
			continue
		}
		out = append(out, entry{seq: seq, key: key, event: e, raw: raw})
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("outbox %s: read: %w", o.dir, err)
	}
	return out, nil
}

func (o *Outbox) park(key, raw []byte, cause error) error {
	var b leveldb.Batch
	parked := append([]byte(keyParkedPrefix), key[1:]...)
	b.Put(parked, raw)
	b.Delete(key)
	if err := o.db.Write(&b, nil); err != nil { // dbMu is held (readDiskLocked)
		o.mu.Lock()
		o.diskFailedLocked(err)
		o.mu.Unlock()
		return fmt.Errorf("outbox %s: park entry %d: %w", o.dir, seqOf(key), err)
	}
	o.mu.Lock()
	o.depth--
	o.parked++
	o.lastErr = fmt.Sprintf("entry %d parked: %v", seqOf(key), cause)
	o.notifyLocked()
	o.mu.Unlock()
	return nil
}

// publish sends one event until the stream acknowledges it or ctx ends.
func (o *Outbox) publish(ctx context.Context, js jetstream.JetStream, ent entry) (*jetstream.PubAck, error) {
	// table.stats go to CUSTODIAN_STATS, every other event to the audit
	// stream CUSTODIAN_EVENTS.
	subject := events.PublishSubject(o.prefix, ent.event)
	stream := events.PublishStream(ent.event)
	wait := publishBackoffMin
	for {
		var ack *jetstream.PubAck
		var err error
		if nc := js.Conn(); nc != nil && !nc.IsConnected() {
			// Waiting here rather than publishing into the reconnect buffer
			// keeps stale copies out of the stream's way.
			err = fmt.Errorf("not connected (%s)", nc.Status())
		} else {
			actx, cancel := context.WithTimeout(ctx, publishAttemptTimeout)
			msg := &nats.Msg{Subject: subject, Data: ent.raw, Header: nats.Header{}}
			// Expect the stream by name: an event must never land in some
			// other stream that happens to capture the subject.
			ack, err = js.PublishMsg(actx, msg, jetstream.WithMsgID(ent.event.ID), jetstream.WithExpectStream(stream))
			cancel()
		}
		if err == nil {
			o.mu.Lock()
			o.disk.publishFailingSince = time.Time{}
			o.mu.Unlock()
			return ack, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if o.onNoStream != nil && errors.Is(err, jetstream.ErrNoStreamResponse) {
			rctx, cancel := context.WithTimeout(ctx, publishAttemptTimeout)
			if rerr := o.onNoStream(rctx); rerr != nil {
				err = errors.Join(err, fmt.Errorf("recreate stream: %w", rerr))
			}
			cancel()
		}
		o.mu.Lock()
		o.failures++
		o.lastErr = fmt.Sprintf("publish %s %s: %v", ent.event.Type, ent.event.ID, err)
		if o.disk.publishFailingSince.IsZero() {
			o.disk.publishFailingSince = time.Now()
		}
		o.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
		wait *= 2
		if wait > publishBackoffMax {
			wait = publishBackoffMax
		}
	}
}

// remove deletes a published entry, records its sequence as the highest
// published (so that numbering goes on after a restart with an empty
// outbox), and tells the watchers. The delete is not fsynced: a crash that
// loses it republishes the event with the same id, which the stream's
// duplicate window drops. A held event is dropped from memory. A delete
// that fails (the disk refuses writes) is remembered: the entry is not
// published again and is deleted after the reopen.
func (o *Outbox) remove(ent entry, ack *jetstream.PubAck) {
	key := ent.key
	if ent.held {
		o.dropHeld(ent.seq)
		// A reopen may have written it to disk since it was read.
		key = eventKey(ent.seq)
	}
	var b leveldb.Batch
	b.Delete(key)
	var seqBuf [8]byte
	binary.BigEndian.PutUint64(seqBuf[:], ent.seq)
	b.Put([]byte(keyLastSeq), seqBuf[:])
	if err := o.write(&b, false); err != nil {
		o.markSent(ent.seq, key)
		o.mu.Lock()
		o.diskFailedLocked(err)
		o.lastErr = fmt.Sprintf("outbox %s: delete entry %d: %v", o.dir, ent.seq, err)
		o.mu.Unlock()
	}
	o.mu.Lock()
	o.depth--
	o.published++
	if o.disk.err == nil {
		o.lastErr = ""
	}
	watchers := append([]PublishedFunc(nil), o.watchers...)
	o.notifyLocked()
	o.mu.Unlock()
	for _, w := range watchers {
		w(ent.event, ack.Sequence, ack.Duplicate)
	}
}
