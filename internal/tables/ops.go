package tables

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/syndtr/goleveldb/leveldb"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/jsonutf8"
)

// Limits of the data plane.
const (
	MaxKeyBytes = 4096 // longer keys are apierr.TooLarge
	// MaxValueBytes leaves 8 KiB of a 1 MiB request body (the bus's
	// default limit, and nats-server's default max_payload) for the key
	// and the rest of a put: longer values are apierr.TooLarge.
	MaxValueBytes = 1<<20 - 8<<10
	MaxBatchOps   = 10000 // longer batches are apierr.TooLarge
)

// checkKey refuses an empty key, a key over MaxKeyBytes and a key that is
// not valid UTF-8 (a JSON client could not send it, nor read it back).
func checkKey(key string) error {
	if key == "" {
		return apierr.New(apierr.InvalidRequest, "empty key")
	}
	if len(key) > MaxKeyBytes {
		return apierr.New(apierr.TooLarge, "key of %d bytes exceeds %d", len(key), MaxKeyBytes)
	}
	if err := jsonutf8.CheckString(key); err != nil {
		return apierr.New(apierr.InvalidRequest, "key %q is not valid UTF-8: %v", events.Echo(key), err)
	}
	return checkReserved(key)
}

// checkValue refuses a missing value, one over MaxValueBytes, and one that
// is not valid JSON of valid Unicode (see jsonutf8): it goes out as stored.
func checkValue(key string, value json.RawMessage) error {
	if len(value) == 0 {
		return apierr.New(apierr.InvalidRequest, "key %q: missing value", events.Echo(key))
	}
	if len(value) > MaxValueBytes {
		return apierr.New(apierr.TooLarge, "key %q: value of %d bytes exceeds %d", events.Echo(key), len(value), MaxValueBytes)
	}
	if !json.Valid(value) {
		return apierr.New(apierr.InvalidRequest, "key %q: value is not valid JSON", events.Echo(key))
	}
	if err := jsonutf8.Check(value); err != nil {
		return apierr.New(apierr.InvalidRequest, "key %q: value is not valid JSON text: %v (strings must be valid UTF-8, without lone surrogate escapes)", events.Echo(key), err)
	}
	return nil
}

// Get returns the JSON value at key, apierr.NotFound if there is none, and
// apierr.TableUnavailable while the table is restoring or degraded.
func (t *Table) Get(ctx context.Context, key string) (json.RawMessage, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	db, err := t.readHandle(ctx)
	var v []byte
	if err == nil {
		v, err = db.Get([]byte(key), nil)
		t.mu.RUnlock()
	}
	switch {
	case errors.Is(err, leveldb.ErrNotFound):
		return nil, apierr.New(apierr.NotFound, "table %s: key %q not found", t.name, events.Echo(key))
	case err != nil:
		return nil, t.fail("get", err)
	}
	return json.RawMessage(v), nil
}

// Put stores a JSON value at key. It returns after the write is durable
// (fsynced journal; with Options.NoSync, written to the operating system).
func (t *Table) Put(ctx context.Context, key string, value json.RawMessage) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkValue(key, value); err != nil {
		return err
	}
	return t.writeOne(ctx, "put", key, value)
}

// Delete removes key (no error if it is absent). It returns after the
// delete is durable.
func (t *Table) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	return t.writeOne(ctx, "delete", key, nil)
}

// Batch applies ops atomically ("put" with a JSON value, or "delete"). An
// invalid op refuses the whole batch (apierr.InvalidRequest) and changes
// nothing.
func (t *Table) Batch(ctx context.Context, ops []Op) error {
	if len(ops) == 0 {
		return apierr.New(apierr.InvalidRequest, "empty batch")
	}
	if len(ops) > MaxBatchOps {
		return apierr.New(apierr.TooLarge, "batch of %d ops exceeds %d", len(ops), MaxBatchOps)
	}
	for i, op := range ops {
		if err := checkKey(op.Key); err != nil {
			return apierr.Wrap(apierr.CodeOf(err), err, "op %d", i)
		}
		switch op.Op {
		case "put":
			if err := checkValue(op.Key, op.Value); err != nil {
				return apierr.Wrap(apierr.CodeOf(err), err, "op %d", i)
			}
		case "delete":
		default:
			return apierr.New(apierr.InvalidRequest, "op %d: unknown op %q (want put or delete)", i, events.Echo(op.Op))
		}
	}
	return t.write(ctx, "batch", ops)
}

// writeOne applies one validated put (value != nil) or delete (value ==
// nil) as write does, without building a batch: goleveldb's Put and Delete
// take the same journal, write-merge and sync path as a batch of one (the
// data-plane put is the hot path, and a batch, its slices and a second copy
// of the key are most of the allocations of a put).
func (t *Table) writeOne(ctx context.Context, op, key string, value json.RawMessage) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k := []byte(key)
	db, err := t.writeHandle(ctx, op)
	if err != nil {
		return err
	}
	// What the key held before, for the dead estimate (see write): from
	// the recent writes if this table wrote it lately, else read.
	existed, oldLen, err := t.prior(db, k, key)
	writeErr := false
	if err == nil {
		now := time.Now()
		ops := 1
		switch {
		case t.timeDue(now):
			// The write carries its time into the journal (writetime.go).
			var b leveldb.Batch
			addTime(&b, now)
			if value != nil {
				b.Put(k, value)
			} else {
				b.Delete(k)
			}
			err = db.Write(&b, dataWrite(t.store.opts.NoSync))
			ops = b.Len()
		case value != nil:
			err = db.Put(k, value, dataWrite(t.store.opts.NoSync))
		default:
			err = db.Delete(k, dataWrite(t.store.opts.NoSync))
		}
		writeErr = err != nil
		if err == nil {
			t.advance(ops) // under the read lock: a backup's snapshot sees it whole
		}
	}
	if err == nil {
		if t.dirty != nil {
			t.dirty.add(key)
		}
		newLen := -1
		if value != nil {
			newLen = len(value)
		}
		t.recent.set(db, key, newLen)
		t.change(len(key), existed, oldLen, newLen)
		t.written.Add(int64(len(key) + len(value)))
	}
	t.mu.RUnlock()
	return t.writeOutcome(db, op, err, writeErr)
}

// writeOutcome is the answer of a data-plane write whose goleveldb call (or
// the read before it) returned err: a write fault when the write itself
// failed with one (see writefault.go), else fail's answer.
func (t *Table) writeOutcome(db *leveldb.DB, op string, err error, writeErr bool) error {
	switch {
	case err == nil:
		return nil
	case writeErr && isWriteFault(err):
		return t.writeFailed(db, op, err)
	}
	return t.fail(op, err)
}

// write applies validated ops as one goleveldb batch (synced unless
// Options.NoSync), keeps the dead estimate and, while a rewrite runs,
// records the keys in its delta.
func (t *Table) write(ctx context.Context, op string, ops []Op) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var b leveldb.Batch
	if now := time.Now(); t.timeDue(now) {
		addTime(&b, now) // the batch carries its time into the journal (writetime.go)
	}
	keys := make([]string, len(ops))
	for i, o := range ops {
		keys[i] = o.Key
		if o.Op == "put" {
			b.Put([]byte(o.Key), o.Value)
		} else {
			b.Delete([]byte(o.Key))
		}
	}
	db, err := t.writeHandle(ctx, op)
	if err != nil {
		return err
	}
	// What each key held before, for the dead estimate (see prior).
	// Within a batch a key may repeat; each op counts against the state
	// before the batch.
	type prior struct {
		existed bool
		oldLen  int
	}
	priors := make([]prior, len(ops))
	for i, o := range ops {
		existed, n, gerr := t.prior(db, []byte(o.Key), o.Key)
		if gerr != nil {
			err = gerr
			break
		}
		priors[i] = prior{existed, n}
	}
	writeErr := false
	if err == nil {
		err = db.Write(&b, dataWrite(t.store.opts.NoSync))
		writeErr = err != nil
		if err == nil {
			t.advance(b.Len()) // under the read lock: a backup's snapshot sees it whole
		}
	}
	if err == nil {
		if t.dirty != nil {
			t.dirty.add(keys...)
		}
		for i, o := range ops {
			newLen := -1
			if o.Op == "put" {
				newLen = len(o.Value)
			}
			t.recent.set(db, o.Key, newLen)
			t.change(len(o.Key), priors[i].existed, priors[i].oldLen, newLen)
		}
		t.written.Add(int64(len(b.Dump())))
	}
	t.mu.RUnlock()
	return t.writeOutcome(db, op, err, writeErr)
}

// prior tells whether key exists in db and the length of its value, for
// the dead estimate: from t.recent when this table wrote the key lately
// (see recentLens), else by reading it (the bloom filters make an absent
// key cheap). k is key as bytes. A read error (corruption) is returned.
func (t *Table) prior(db *leveldb.DB, k []byte, key string) (existed bool, n int, err error) {
	if existed, n, ok := t.recent.lookup(db, key); ok {
		return existed, n, nil
	}
	v, err := db.Get(k, nil)
	switch {
	case err == nil:
		return true, len(v), nil
	case errors.Is(err, leveldb.ErrNotFound):
		return false, 0, nil
	}
	return false, 0, err
}
