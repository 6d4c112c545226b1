package changelog

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/custodian-dev/custodian/internal/logtail"
)

// Version is the state a MANIFEST's version edits describe: the table
// files of the database (number to size), the journal number from which
// journals are replayed at an open, and the last sequence number.
type Version struct {
	Tables     map[uint64]uint64
	JournalNum uint64
	Seq        uint64
	// Valid is the length of the MANIFEST's whole records: a copy of its
	// first Valid bytes is a MANIFEST of this version.
	Valid int64
}

// ReadVersion applies the version edits of the MANIFEST bytes b (a torn
// last record is left out; damage is an error).
func ReadVersion(b []byte) (Version, error) {
	v := Version{Tables: map[uint64]uint64{}}
	tail, err := logtail.Walk(b, func(off int64, rec []byte) error {
		if err := applyEdit(&v, rec); err != nil {
			return fmt.Errorf("version edit at offset %d: %w", off, err)
		}
		return nil
	})
	if err != nil {
		return v, fmt.Errorf("changelog: manifest: %w", err)
	}
	if !tail.Whole() && !tail.Torn {
		return v, fmt.Errorf("changelog: manifest damaged at offset %d: %s", tail.At, tail.Reason)
	}
	v.Valid = tail.Valid
	return v, nil
}

// applyEdit applies one version edit (leveldb/session_record.go's
// encoding) to v.
func applyEdit(v *Version, rec []byte) error {
	uv := func() (uint64, error) {
		x, n := binary.Uvarint(rec)
		if n <= 0 {
			return 0, errors.New("bad varint")
		}
		rec = rec[n:]
		return x, nil
	}
	skip := func() error {
		l, err := uv()
		if err != nil {
			return err
		}
		if l > uint64(len(rec)) {
			return errors.New("byte string past the end")
		}
		rec = rec[l:]
		return nil
	}
	for len(rec) > 0 {
		tag, err := uv()
		if err != nil {
			return err
		}
		switch tag {
		case tagComparer:
			err = skip()
		case tagJournalNum:
			v.JournalNum, err = uv()
		case tagNextFileNum, tagPrevJournal:
			_, err = uv()
		case tagSeqNum:
			v.Seq, err = uv()
		case tagCompPtr:
			if _, err = uv(); err == nil {
				err = skip()
			}
		case tagDelTable:
			var num uint64
			if _, err = uv(); err == nil {
				if num, err = uv(); err == nil {
					delete(v.Tables, num)
				}
			}
		case tagAddTable:
			var num, size uint64
			if _, err = uv(); err == nil {
				if num, err = uv(); err == nil {
					if size, err = uv(); err == nil {
						if err = skip(); err == nil {
							err = skip()
						}
					}
				}
			}
			if err == nil {
				v.Tables[num] = size
			}
		default:
			return fmt.Errorf("unknown field %d", tag)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
