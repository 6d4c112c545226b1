package changelog

import (
	"encoding/binary"

	"github.com/custodian-dev/custodian/internal/logtail"
)

// batch is one whole record of a journal file: where it starts, the
// sequence number of its first op, its op count (the time ops included)
// and its bytes.
type batch struct {
	off        int64
	seq, count uint64
	data       []byte
}

// last is the sequence number of the batch's last op.
func (b batch) last() uint64 { return b.seq + b.count - 1 }

// ops decodes the batch's ops; a batch that does not decode is damage at
// its offset.
func (b batch) ops(name string) ([]Op, error) {
	ops, err := DecodeRecord(b.data)
	if err != nil {
		return nil, &Damage{File: name, Offset: b.off, Reason: err.Error()}
	}
	return ops, nil
}

// walkBatches calls fn with each whole record of the journal file name,
// whose bytes from offset base (a block boundary) are b, from offset from
// (a record boundary) on: every reader of journals (Read, a replay, the
// Tailer, EndSequence) walks them here. A record shorter than a batch
// header, and damage before the end of the file (anything but a torn
// tail), are a *Damage; the Tail says where the last whole record ends.
func walkBatches(name string, b []byte, base, from int64, fn func(batch) error) (logtail.Tail, error) {
	tail, err := logtail.WalkFrom(b, base, from, func(off int64, rec []byte) error {
		if len(rec) < 12 {
			return &Damage{File: name, Offset: off, Reason: "batch shorter than its header"}
		}
		return fn(batch{off: off, seq: binary.LittleEndian.Uint64(rec[0:8]),
			count: uint64(binary.LittleEndian.Uint32(rec[8:12])), data: rec})
	})
	if err != nil {
		return tail, err
	}
	if !tail.Whole() && !tail.Torn {
		return tail, &Damage{File: name, Offset: tail.At, Reason: tail.Reason}
	}
	return tail, nil
}
