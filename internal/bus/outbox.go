package bus

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/util"

	"github.com/custodian-dev/custodian/internal/events"
)

// MaxEventBytes is the largest encoded event the outbox accepts. A larger
// event could never be published (max_payload), so Emit refuses it instead
// of blocking the queue behind it.
const MaxEventBytes = 256 << 10

// Keys of the outbox database.
const (
	keyEventPrefix  = "e"     // e<8-byte big-endian seq> -> event JSON, in publication order
	keyParkedPrefix = "x"     // x<seq> -> an entry that cannot be decoded (kept, never deleted)
	keyLastSeq      = "m/seq" // highest sequence ever published (written with each delete)
)

// ErrOutboxClosed is returned by Emit after Close.
var ErrOutboxClosed = errors.New("outbox: closed")

// errOutboxDBClosed: the database is not open (a reopen failed).
var errOutboxDBClosed = errors.New("outbox: database not open (a reopen after a failed write did not succeed yet)")

// PublishedFunc is called after each event is stored in the stream, in
// order, from the publisher goroutine. duplicate is true when the stream
// already had the event (a retry after a lost PubAck).
type PublishedFunc func(e events.Event, streamSeq uint64, duplicate bool)

// Outbox is the local, durable queue of events waiting for publication.
// Emit appends (fsync) and returns; Run publishes in order with
// Nats-Msg-Id = event id and deletes an entry only after its PubAck.
type Outbox struct {
	dir        string
	prefix     string
	onNoStream func(ctx context.Context) error

	// dbMu guards db: every use of the database holds it for reading;
	// reopen (after a write failed: goleveldb keeps its journal writer's
	// first error) holds it for writing. db is nil while a reopen failed.
	dbMu sync.RWMutex
	db   *leveldb.DB

	mu        sync.Mutex // guards the fields below
	next      uint64     // sequence of the next appended event
	committed uint64     // every sequence up to this one is on disk (or failed)
	finished  map[uint64]bool
	depth     int64  // events waiting
	published uint64 // events published since open
	failures  uint64 // failed publish attempts since open
	parked    uint64 // entries that could not be decoded (kept under x)
	lastErr   string // last publish error, "" after a success
	closed    bool
	running   bool           // Run is running
	writers   sync.WaitGroup // Emits writing to the database
	changed   chan struct{}  // closed and replaced on every change of depth
	watchers  []PublishedFunc
	disk      diskState // whether the database takes writes (outbox_disk.go)

	wake chan struct{} // cap 1: an event was appended
}

// OutboxOptions configure an Outbox.
type OutboxOptions struct {
	Prefix string // subject prefix (default "custodian")
	// OnNoStream, when set, is called when a publish finds no stream to
	// take the event (someone deleted CUSTODIAN_EVENTS): the supervisor
	// creates it again (EnsureStream), and the event goes out with the next
	// attempt. Its error counts as a failed attempt.
	OnNoStream func(ctx context.Context) error
}

// OpenOutbox opens (or creates) the outbox database in dir, normally
// <data>/outbox. Events left by a previous run are published first.
func OpenOutbox(dir string, opts OutboxOptions) (*Outbox, error) {
	prefix := opts.Prefix
	if prefix == "" {
		prefix = events.DefaultPrefix
	}
	if !events.ValidPrefix(prefix) {
		return nil, fmt.Errorf("outbox %s: invalid subject prefix %q", dir, prefix)
	}
	db, err := leveldb.OpenFile(dir, &opt.Options{})
	if err != nil {
		return nil, fmt.Errorf("outbox %s: open: %w", dir, err)
	}
	o := &Outbox{db: db, dir: dir, prefix: prefix, onNoStream: opts.OnNoStream, changed: make(chan struct{}), wake: make(chan struct{}, 1), finished: map[uint64]bool{}}
	if err := o.load(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return o, nil
}

// load reads the persisted sequence and counts waiting events.
func (o *Outbox) load() error {
	var last uint64
	v, err := o.db.Get([]byte(keyLastSeq), nil)
	switch {
	case err == nil && len(v) == 8:
		last = binary.BigEndian.Uint64(v)
	case err == nil:
		return fmt.Errorf("outbox %s: load: bad sequence record (%d bytes)", o.dir, len(v))
	case !errors.Is(err, leveldb.ErrNotFound):
		return fmt.Errorf("outbox %s: load: %w", o.dir, err)
	}
	it := o.db.NewIterator(util.BytesPrefix([]byte(keyEventPrefix)), nil)
	var n int64
	for it.Next() {
		n++
		if s := seqOf(it.Key()); s > last {
			last = s
		}
	}
	it.Release()
	if err := it.Error(); err != nil {
		return fmt.Errorf("outbox %s: load: %w", o.dir, err)
	}
	o.next = last + 1
	o.committed = last
	o.depth = n
	return nil
}

func eventKey(seq uint64) []byte {
	k := make([]byte, 9)
	k[0] = keyEventPrefix[0]
	binary.BigEndian.PutUint64(k[1:], seq)
	return k
}

func seqOf(key []byte) uint64 {
	if len(key) != 9 {
		return 0
	}
	return binary.BigEndian.Uint64(key[1:])
}

// validateEvent refuses an event that could never be published.
func validateEvent(e events.Event) error {
	switch {
	case e.ID == "":
		return errors.New("no id")
	case e.Type == "" || strings.ContainsAny(e.Type, " \t\r\n*>") || strings.HasPrefix(e.Type, ".") || strings.HasSuffix(e.Type, ".") || strings.Contains(e.Type, ".."):
		return fmt.Errorf("bad type %q", e.Type)
	case !events.ValidNode(e.Node):
		return fmt.Errorf("bad node %q", e.Node)
	case e.Table != "" && e.Table != events.NodeTable && !events.ValidTable(e.Table):
		return fmt.Errorf("bad table %q", e.Table)
	}
	return nil
}

// Emit appends e durably (fsync) and returns; the publisher sends it later.
// It implements events.Emitter.
func (o *Outbox) Emit(ctx context.Context, e events.Event) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("outbox: emit %s: %w", e.Type, err)
	}
	if err := validateEvent(e); err != nil {
		return fmt.Errorf("outbox: emit %s %s: %w", e.Type, e.ID, err)
	}
	b, err := e.Marshal()
	if err != nil {
		return fmt.Errorf("outbox: emit: %w", err)
	}
	if len(b) > MaxEventBytes {
		return fmt.Errorf("outbox: emit %s %s: event of %d bytes exceeds %d", e.Type, e.ID, len(b), MaxEventBytes)
	}
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return ErrOutboxClosed
	}
	o.writers.Add(1) // Close waits for this Emit, its reopen included
	o.mu.Unlock()
	defer o.writers.Done()
	// A database that refused a write is reopened here too, not only by
	// the publisher, which may be busy retrying a publish while NATS is
	// down (see outbox_disk.go).
	if o.reopenDue() {
		if err := o.reopen(); err != nil {
			o.noteError(err)
		}
	}
	// The sequence is taken under the lock, the write is not: concurrent
	// Emits share one journal write and one fsync (goleveldb merges them).
	// The publisher reads only up to the committed watermark, so order
	// holds even when a later sequence reaches the disk first.
	o.mu.Lock()
	seq := o.next
	o.next++
	if o.disk.err != nil {
		// The database refuses writes: hold the event in memory, in
		// order, until it is published (see outbox_disk.go).
		defer o.mu.Unlock()
		o.finishLocked(seq)
		return o.holdLocked(seq, e, b, o.disk.err)
	}
	o.mu.Unlock()

	var batch leveldb.Batch
	batch.Put(eventKey(seq), b)
	werr := o.write(&batch, true)

	o.mu.Lock()
	defer o.mu.Unlock()
	o.finishLocked(seq)
	if werr != nil {
		o.diskFailedLocked(werr)
		return o.holdLocked(seq, e, b, werr)
	}
	o.depth++
	o.notifyLocked()
	o.wakeLocked()
	return nil
}

// finishLocked marks seq as done (written, held in memory, or a hole) and
// moves the committed watermark over every done sequence. o.mu is held.
func (o *Outbox) finishLocked(seq uint64) {
	o.finished[seq] = true
	for o.finished[o.committed+1] {
		delete(o.finished, o.committed+1)
		o.committed++
	}
}

// wakeLocked wakes the publisher.
func (o *Outbox) wakeLocked() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// write applies b to the database (fsynced when durable), or fails when
// the database is not open (a reopen failed).
func (o *Outbox) write(b *leveldb.Batch, durable bool) error {
	o.dbMu.RLock()
	defer o.dbMu.RUnlock()
	if o.db == nil {
		return errOutboxDBClosed
	}
	return o.db.Write(b, &opt.WriteOptions{Sync: durable})
}

// notifyLocked wakes every Flush waiter. o.mu must be held.
func (o *Outbox) notifyLocked() {
	close(o.changed)
	o.changed = make(chan struct{})
}

// Depth is the number of events waiting for publication.
func (o *Outbox) Depth() int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.depth
}

// OutboxStats are the outbox's counters since it was opened.
type OutboxStats struct {
	Depth         int64  `json:"depth"`
	Published     uint64 `json:"published"`
	Failures      uint64 `json:"failures"`       // failed publish attempts (each retried)
	Parked        uint64 `json:"parked"`         // undecodable entries kept aside
	Held          int64  `json:"held"`           // events held in memory while the disk refuses writes
	WriteFailures uint64 `json:"write_failures"` // failed writes of the database
	LastError     string `json:"last_error,omitempty"`
}

// Stats reports the outbox's counters.
func (o *Outbox) Stats() OutboxStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return OutboxStats{Depth: o.depth, Published: o.published, Failures: o.failures, Parked: o.parked,
		Held: int64(len(o.disk.held)), WriteFailures: o.disk.failures, LastError: o.lastErr}
}

// OnPublished registers f to be called after each event is published.
// Callbacks run on the publisher goroutine: keep them short.
func (o *Outbox) OnPublished(f PublishedFunc) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.watchers = append(o.watchers, f)
}

// Flush waits until every event appended so far has been published (the
// outbox is empty), or ctx ends. Run must be running.
func (o *Outbox) Flush(ctx context.Context) error {
	for {
		o.mu.Lock()
		depth, changed, lastErr := o.depth, o.changed, o.lastErr
		o.mu.Unlock()
		if depth == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if lastErr != "" {
				return fmt.Errorf("outbox: flush: %d events still waiting (last publish error: %s): %w", depth, lastErr, ctx.Err())
			}
			return fmt.Errorf("outbox: flush: %d events still waiting: %w", depth, ctx.Err())
		}
	}
}

// Close closes the database. Call it after Run has returned; Emit fails
// from now on. Waiting events stay on disk for the next run, also those
// held in memory while the disk refused writes (written now; an error says
// how many are lost when that fails).
func (o *Outbox) Close() error {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil
	}
	o.closed = true
	o.mu.Unlock()
	o.writers.Wait()
	herr := o.settle()
	o.dbMu.Lock()
	defer o.dbMu.Unlock()
	if o.db == nil {
		return herr
	}
	err := o.db.Close()
	o.db = nil
	if err != nil {
		return errors.Join(herr, fmt.Errorf("outbox %s: close: %w", o.dir, err))
	}
	return herr
}
