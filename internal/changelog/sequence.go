package changelog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/custodian-dev/custodian/internal/logtail"
)

// Tags of the fields of a goleveldb MANIFEST record (a version edit;
// leveldb/session_record.go): each a uvarint tag, then uvarints and
// uvarint-length-prefixed byte strings.
const (
	tagComparer    = 1 // bytes
	tagJournalNum  = 2 // uvarint
	tagNextFileNum = 3 // uvarint
	tagSeqNum      = 4 // uvarint
	tagCompPtr     = 5 // level, bytes
	tagDelTable    = 6 // level, num
	tagAddTable    = 7 // level, num, size, bytes, bytes
	tagPrevJournal = 9 // uvarint
)

// LastSequence is the sequence number that the MANIFEST named by dir's
// CURRENT records last. After a read-write open of the database (which
// commits it), every write the database holds has a position at most this,
// and the next write gets this plus one (goleveldb's recovery moves it one
// past the last write it replayed). A table's position goes on from there
// by the number of ops of each batch written since (the time ops
// included). A damaged or unknown MANIFEST is an error.
func LastSequence(dir string) (uint64, error) {
	name, err := logtail.CurrentManifest(dir)
	if err != nil {
		return 0, fmt.Errorf("changelog: last sequence: %w", err)
	}
	if name == "" {
		return 0, fmt.Errorf("changelog: last sequence: %s has no CURRENT naming a MANIFEST", dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, fmt.Errorf("changelog: last sequence: %w", err)
	}
	var seq uint64
	found := false
	tail, err := logtail.Walk(b, func(off int64, rec []byte) error {
		s, ok, err := editSequence(rec)
		if err != nil {
			return fmt.Errorf("%s at offset %d: %w", name, off, err)
		}
		if ok {
			seq, found = s, true
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("changelog: last sequence: %w", err)
	}
	if !tail.Whole() {
		return 0, fmt.Errorf("changelog: last sequence: %s at offset %d: %s", name, tail.At, tail.Reason)
	}
	if !found {
		return 0, fmt.Errorf("changelog: last sequence: %s records no sequence number", name)
	}
	return seq, nil
}

// editSequence reads one version edit and returns its sequence number
// field, if it has one.
func editSequence(rec []byte) (seq uint64, ok bool, err error) {
	uv := func() (uint64, error) {
		x, n := binary.Uvarint(rec)
		if n <= 0 {
			return 0, errors.New("bad varint in a version edit")
		}
		rec = rec[n:]
		return x, nil
	}
	skipBytes := func() error {
		l, err := uv()
		if err != nil {
			return err
		}
		if l > uint64(len(rec)) {
			return errors.New("byte string past the end of a version edit")
		}
		rec = rec[l:]
		return nil
	}
	for len(rec) > 0 {
		tag, err := uv()
		if err != nil {
			return 0, false, err
		}
		// The fields of each tag, in order: 'u' a uvarint, 'b' bytes.
		var fields string
		switch tag {
		case tagComparer:
			fields = "b"
		case tagJournalNum, tagNextFileNum, tagPrevJournal:
			fields = "u"
		case tagSeqNum:
			x, err := uv()
			if err != nil {
				return 0, false, err
			}
			seq, ok = x, true
			continue
		case tagCompPtr:
			fields = "ub"
		case tagDelTable:
			fields = "uu"
		case tagAddTable:
			fields = "uuubb"
		default:
			return 0, false, fmt.Errorf("unknown version edit field %d", tag)
		}
		for _, f := range fields {
			if f == 'u' {
				_, err = uv()
			} else {
				err = skipBytes()
			}
			if err != nil {
				return 0, false, err
			}
		}
	}
	return seq, ok, nil
}

// EndSequence is the sequence number of the last write the database in
// dir holds: what its MANIFEST records (LastSequence), or the last whole
// record of its journals when that is later. A journal damaged before its
// end is an error.
func EndSequence(dir string) (uint64, error) {
	seq, err := LastSequence(dir)
	if err != nil {
		return 0, err
	}
	files, err := LiveJournals(dir, 0)
	if err != nil {
		return 0, err
	}
	for _, f := range files {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			return 0, fmt.Errorf("changelog: end sequence: %w", err)
		}
		if _, err := walkBatches(filepath.Base(f.Path), b, 0, 0, func(bt batch) error {
			if bt.count > 0 {
				seq = max(seq, bt.last())
			}
			return nil
		}); err != nil {
			return 0, fmt.Errorf("changelog: end sequence: %w", err)
		}
	}
	return seq, nil
}

// FirstSequence is the sequence number of the first record of the journal
// file at path; ok is false when it has none. It reads the first 64 KiB,
// and the whole file only when its first record is longer.
func FirstSequence(path string) (seq uint64, ok bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, fmt.Errorf("changelog: first sequence: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, false, fmt.Errorf("changelog: first sequence: %w", err)
	}
	for _, size := range []int64{min(fi.Size(), 64<<10), fi.Size()} {
		b := make([]byte, size)
		if _, err := f.ReadAt(b, 0); err != nil {
			return 0, false, fmt.Errorf("changelog: first sequence: %w", err)
		}
		errFound := errors.New("found")
		_, werr := logtail.Walk(b, func(off int64, rec []byte) error {
			if len(rec) >= 12 {
				seq, ok = binary.LittleEndian.Uint64(rec[0:8]), true
			}
			return errFound
		})
		if ok {
			return seq, true, nil
		}
		if werr != nil && !errors.Is(werr, errFound) {
			return 0, false, fmt.Errorf("changelog: first sequence of %s: %w", filepath.Base(path), werr)
		}
		if size == fi.Size() {
			break
		}
	}
	return 0, false, nil
}
