package changelog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Record is one whole journal record (a write batch, possibly several
// merged) as a Tailer reads it.
type Record struct {
	Gen   uint64 // its generation
	Seq   uint64 // goleveldb sequence number of its first op
	Count uint64 // ops (the time ops included)
	Data  []byte // the record: 8-byte sequence, 4-byte count, the batch body
}

// Last is the position of the record's last op.
func (r Record) Last() uint64 { return PositionOf(r.Gen, r.Seq+r.Count-1) }

// A Tailer reads a table's journal incrementally, record by record, from a
// position on: each Read returns the records written since the last one
// (reading only the new part of the file it is in), following the
// table's generations. Journal names where to read; Current is read
// anew by the caller's func before each Read, since a rewrite or restore
// changes it.
type Tailer struct {
	gen    uint64 // the generation being read
	after  uint64 // its records up to this sequence are done
	num    uint64 // the file being read (0: not chosen yet)
	offset int64  // where the next record starts in it
}

// NewTailer starts after position from: records whose ops are all at or
// before it are not returned.
func NewTailer(from uint64) *Tailer {
	g, s := SplitPosition(from)
	return &Tailer{gen: g, after: s}
}

// Position is the position of the last op returned (or the start).
func (t *Tailer) Position() uint64 { return PositionOf(t.gen, t.after) }

// Generation is the generation being read.
func (t *Tailer) Generation() uint64 { return t.gen }

// Read calls fn with every whole record after the last one returned, in
// order, until the end of what is written; a record fn fails is returned
// again by the next Read. newGen is called (before the first record of a
// generation) with each generation the tail moves on to. A torn end stops
// a Read without an error (the rest is being written); damage is a
// *Damage error.
func (t *Tailer) Read(j Journal, newGen func(Generation) error, fn func(Record) error) error {
	for {
		moved, err := t.readGen(j, fn)
		if err != nil || !moved {
			return err
		}
		// The generation is done and a later one of the history follows.
		next, ok, err := t.nextGen(j)
		if err != nil || !ok {
			return err
		}
		if newGen != nil {
			if err := newGen(next); err != nil {
				return err
			}
		}
		t.gen, t.after, t.num, t.offset = next.Number, next.SeqBase, 0, 0
	}
}

// readGen reads the files of t.gen; done is true when it has read the
// whole of a generation that is no longer the current one.
func (t *Tailer) readGen(j Journal, fn func(Record) error) (done bool, _ error) {
	files, err := j.files(t.gen)
	if err != nil {
		return false, err
	}
	for _, f := range files {
		if f.Num < t.num {
			continue
		}
		if f.Num > t.num {
			t.num, t.offset = f.Num, 0
		}
		if err := t.readFile(f, fn); err != nil {
			return false, err // a damage of the file too
		}
		// A later file (if any) means this one is complete: a torn end
		// of an older file was never acknowledged.
	}
	return t.gen != j.Current, nil
}

// readFile returns the records of f after t.offset.
func (t *Tailer) readFile(f JournalFile, fn func(Record) error) error {
	b, base, err := readFrom(f, t.offset)
	if err != nil {
		return err
	}
	failedAt := int64(-1)
	tail, err := walkBatches(filepath.Base(f.Path), b, base, t.offset, func(bt batch) error {
		if bt.count > 0 && bt.last() > t.after {
			if err := fn(Record{Gen: t.gen, Seq: bt.seq, Count: bt.count, Data: bt.data}); err != nil {
				failedAt = bt.off // read again by the next Read
				return err
			}
			t.after = bt.last()
		}
		return nil
	})
	switch {
	case err != nil && failedAt >= 0:
		t.offset = failedAt
	case err == nil:
		t.offset = tail.Valid // where the next record will start
	}
	return err
}

// readFrom reads f from the start of the block holding offset to its end
// (a live file that goleveldb archived meanwhile is read from the
// archive).
func readFrom(f JournalFile, offset int64) ([]byte, int64, error) {
	fh, err := os.Open(f.Path)
	if errors.Is(err, os.ErrNotExist) && f.Alt != "" {
		fh, err = os.Open(f.Alt)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("changelog: %w", err)
	}
	defer fh.Close()
	base := offset &^ (32<<10 - 1)
	if _, err := fh.Seek(base, io.SeekStart); err != nil {
		return nil, 0, fmt.Errorf("changelog: %w", err)
	}
	b, err := io.ReadAll(fh)
	if err != nil {
		return nil, 0, fmt.Errorf("changelog: %w", err)
	}
	return b, base, nil
}

// nextGen is the generation of the history that follows t.gen: the oldest
// generation of the current history newer than it.
func (t *Tailer) nextGen(j Journal) (Generation, bool, error) {
	genOf, err := j.generations()
	if err != nil {
		return Generation{}, false, err
	}
	var next Generation
	found := false
	for cur := genOf(j.Current); cur.Number > t.gen; {
		next, found = cur, true
		p, ok := cur.Parent()
		if !ok || p >= cur.Number {
			break
		}
		cur = genOf(p)
	}
	return next, found, nil
}
