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

// entry is one waiting event.
type entry struct {
	key   []byte
	event events.Event
	raw   []byte
}

// Run publishes waiting events in order until ctx ends: one sync JetStream
// publish per event with Nats-Msg-Id = event id, the entry deleted only
// after the PubAck. While NATS is unreachable it retries the same event
// with backoff and never skips ahead. It returns nil when ctx ends, or an
// error when the outbox database fails.
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
	for {
		batch, err := o.readBatch()
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-o.wake:
				continue
			}
		}
		for _, ent := range batch {
			ack, err := o.publish(ctx, js, ent)
			if err != nil {
				return nil // ctx ended; the entry stays for the next run
			}
			if err := o.remove(ent, ack); err != nil {
				return err
			}
		}
	}
}

// readBatch reads up to readBatch waiting entries from the head of the
// queue. Entries that cannot be decoded are moved aside under x<seq> (kept
// on disk, counted in Stats().Parked) so that they cannot block the queue.
func (o *Outbox) readBatch() ([]entry, error) {
	o.mu.Lock()
	limit := o.committed
	o.mu.Unlock()
	it := o.db.NewIterator(util.BytesPrefix([]byte(keyEventPrefix)), nil)
	defer it.Release()
	var out []entry
	for len(out) < readBatch && it.Next() && seqOf(it.Key()) <= limit {
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
		out = append(out, entry{key: key, event: e, raw: raw})
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
	if err := o.db.Write(&b, nil); err != nil {
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
	subject := events.Subject(o.prefix, ent.event)
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
			ack, err = js.PublishMsg(actx, msg, jetstream.WithMsgID(ent.event.ID), jetstream.WithExpectStream(events.StreamName))
			cancel()
		}
		if err == nil {
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
// outbox), and tells the watchers. The delete is not fsynced: a crash that loses it republishes the event with the same
// id, which the stream's duplicate window drops.
func (o *Outbox) remove(ent entry, ack *jetstream.PubAck) error {
	var b leveldb.Batch
	b.Delete(ent.key)
	var seqBuf [8]byte
	binary.BigEndian.PutUint64(seqBuf[:], seqOf(ent.key))
	b.Put([]byte(keyLastSeq), seqBuf[:])
	if err := o.db.Write(&b, nil); err != nil {
		return fmt.Errorf("outbox %s: delete entry %d: %w", o.dir, seqOf(ent.key), err)
	}
	o.mu.Lock()
	o.depth--
	o.published++
	o.lastErr = ""
	watchers := append([]PublishedFunc(nil), o.watchers...)
	o.notifyLocked()
	o.mu.Unlock()
	for _, w := range watchers {
		w(ent.event, ack.Sequence, ack.Duplicate)
	}
	return nil
}
