package changelog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/syndtr/goleveldb/leveldb"

	"github.com/custodian-dev/custodian/internal/logtail"
)

// ReservedPrefix starts the keys Custodian writes for itself into a
// table's batches; client keys that start with it are refused (a NUL byte
// is valid UTF-8).
const ReservedPrefix = "\x00custodian/"

// TimeKey is the reserved key under which a batch carries its time
// (8-byte big-endian Unix nanoseconds): put and deleted again in the same
// batch, so that the table never holds it and only the journal sees it.
const TimeKey = ReservedPrefix + "time"

// Op is one write of a table as its journal holds it.
type Op struct {
	Seq   uint64    // position: goleveldb's sequence number of the op
	Time  time.Time // the time its batch carried (TimeKey), zero if none
	Kind  string    // "put" or "delete"
	Key   []byte
	Value []byte // a put's value
}

// Damage says where a journal stops being readable.
type Damage struct {
	File   string // base name
	Offset int64  // of the chunk or record that is damaged
	Reason string
}

func (d *Damage) Error() string {
	return fmt.Sprintf("journal %s damaged at offset %d: %s", d.File, d.Offset, d.Reason)
}

// DecodeRecord decodes one journal record (a write batch) into its ops, in
// order, without the TimeKey ops. An op's Time is the time the last
// TimeKey before it in the record carried (concurrent writes merged into
// one record each carry their own), zero when none did.
func DecodeRecord(rec []byte) ([]Op, error) {
	if len(rec) < 12 {
		return nil, fmt.Errorf("batch of %d bytes is shorter than its 12-byte header", len(rec))
	}
	seq := binary.LittleEndian.Uint64(rec[0:8])
	count := int(binary.LittleEndian.Uint32(rec[8:12]))
	var b leveldb.Batch
	if err := b.Load(rec[12:]); err != nil {
		return nil, fmt.Errorf("batch at sequence %d: %w", seq, err)
	}
	if b.Len() != count {
		return nil, fmt.Errorf("batch at sequence %d: header says %d ops, body holds %d", seq, count, b.Len())
	}
	r := &replay{seq: seq}
	if err := b.Replay(r); err != nil {
		return nil, fmt.Errorf("batch at sequence %d: %w", seq, err)
	}
	if r.err != nil {
		return nil, fmt.Errorf("batch at sequence %d: %w", seq, r.err)
	}
	return r.ops, nil
}

// replay collects a batch's ops; every op takes one sequence number, the
// TimeKey op included.
type replay struct {
	seq  uint64
	i    uint64
	ops  []Op
	time time.Time
	err  error
}

func (r *replay) Put(key, value []byte) {
	defer func() { r.i++ }()
	if string(key) == TimeKey {
		if len(value) != 8 {
			r.err = errors.Join(r.err, fmt.Errorf("time of %d bytes, want 8", len(value)))
			return
		}
		r.time = time.Unix(0, int64(binary.BigEndian.Uint64(value))).UTC()
		return
	}
	r.ops = append(r.ops, Op{Seq: r.seq + r.i, Time: r.time, Kind: "put", Key: append([]byte(nil), key...), Value: append([]byte(nil), value...)})
}

func (r *replay) Delete(key []byte) {
	defer func() { r.i++ }()
	if string(key) == TimeKey {
		return // the delete that keeps the time out of the table
	}
	r.ops = append(r.ops, Op{Seq: r.seq + r.i, Time: r.time, Kind: "delete", Key: append([]byte(nil), key...)})
}

// ReadFile calls fn with every op of the journal file at path whose
// position is at least from, in order. It returns the file's tail (see
// logtail.Inspect: whole, or a torn end, which holds no acknowledged
// write), a *Damage when a chunk or a batch is damaged (the ops before it
// were read), or fn's error.
func ReadFile(path string, from uint64, fn func(Op) error) (logtail.Tail, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return logtail.Tail{}, fmt.Errorf("changelog: %w", err)
	}
	return Read(filepath.Base(path), b, from, fn)
}

// Read is ReadFile on the bytes b of the journal file name.
func Read(name string, b []byte, from uint64, fn func(Op) error) (logtail.Tail, error) {
	return walkBatches(name, b, 0, 0, func(bt batch) error {
		ops, err := bt.ops(name)
		if err != nil {
			return err
		}
		for _, op := range ops {
			if op.Seq < from {
				continue
			}
			if err := fn(op); err != nil {
				return err
			}
		}
		return nil
	})
}

// Journals lists the journal files of a goleveldb database directory in
// file-number order, as paths; none when dir does not exist.
func Journals(dir string) ([]string, error) {
	names, err := logtail.Journals(dir)
	if err != nil {
		return nil, fmt.Errorf("changelog: %w", err)
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join(dir, n)
	}
	return out, nil
}
