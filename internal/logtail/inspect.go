package logtail

import (
	"encoding/binary"
	"fmt"

	"github.com/syndtr/goleveldb/leveldb/util"
)

// The LevelDB log format (goleveldb's leveldb/journal): 32 KiB blocks of
// chunks, each a 7-byte header (masked CRC-32C of type and data, 2-byte
// little-endian length, type) and its data. A record is one full chunk, or
// a first chunk, middle chunks and a last chunk. A block whose remaining
// room is smaller than a header is padded (the trailer) and the next chunk
// starts at the next block.
const (
	blockSize  = 32 * 1024
	headerSize = 7

	fullChunk   = 1
	firstChunk  = 2
	middleChunk = 3
	lastChunk   = 4
)

// Tail is what Inspect finds at the end of a log file.
type Tail struct {
	// Size is the length of the file.
	Size int64
	// Valid is the end of the last whole record: Size when every byte
	// belongs to a whole record (or to block padding after one).
	Valid int64
	// Torn is true when the bytes from Valid to Size are an interrupted
	// append (see Inspect) and may be cut off; false when they are damage.
	Torn bool
	// Reason says what is wrong after Valid ("" when Valid == Size).
	Reason string
	// At is where the problem was found (the chunk that is cut short or
	// damaged).
	At int64
}

// Whole reports whether the file ends with a whole record.
func (t Tail) Whole() bool { return t.Valid == t.Size }

// Inspect reads a log file's bytes and finds where its last whole record
// ends, and whether what follows is a torn tail or damage.
//
// Torn (an append cut short: a crash between the write() calls of one
// record, or a write that hit ENOSPC half way): a chunk header cut by the
// end of the file, a chunk whose length runs past the end of the file (and
// not past its block), a record whose first chunks are whole but whose last
// chunk never came, or zero bytes from some point to the end of the file
// (space the file system allocated but the append never filled).
//
// Damage (never cut): a whole chunk whose checksum fails, a chunk type that
// does not exist, a length that runs past the chunk's block, chunks out of
// order. Also damage: a chunk that seems cut by the end of the file while a
// prefix of its data matches the header's checksum and the file ends there
// or a valid chunk starts there: the length field was flipped, the record is
// whole (and acknowledged), and cutting it would drop it.
func Inspect(b []byte) Tail {
	t, _ := Walk(b, nil)
	return t
}

// Walk reads the whole records of a log file in order, calling fn (when
// not nil) with each record's data (its chunks' data joined; valid only
// during the call) and the offset of its first chunk, and returns what
// Inspect says of the file's end. It stops at the first damage or torn
// tail (the Tail says which and where), or at fn's first error, which it
// returns.
func Walk(b []byte, fn func(off int64, rec []byte) error) (Tail, error) {
	return walk(b, 0, fn)
}

// WalkFrom is Walk over a window of a file: b holds the file's bytes from
// offset base on (base a multiple of the 32 KiB block size), and the walk
// starts at file offset from (base <= from <= base+len(b)), which must be
// where a record starts (a Tail.Valid of an earlier walk). Offsets, in fn
// and in the Tail, are the file's.
func WalkFrom(b []byte, base, from int64, fn func(off int64, rec []byte) error) (Tail, error) {
	if base%blockSize != 0 || from < base || from > base+int64(len(b)) {
		return Tail{}, fmt.Errorf("logtail: walk from %d in a window at %d of %d bytes", from, base, len(b))
	}
	shift := func(off int64, rec []byte) error {
		if fn == nil {
			return nil
		}
		return fn(base+off, rec)
	}
	t, err := walk(b, int(from-base), shift)
	t.Size += base
	t.Valid += base
	if !t.Whole() || err != nil {
		t.At += base
	}
	return t, err
}

// walk is Walk from offset first of b (a record boundary).
func walk(b []byte, first int, fn func(off int64, rec []byte) error) (Tail, error) {
	n := len(b)
	valid := first // end of the last whole record
	inRec := false // a first chunk was read, its last not yet
	start := first // offset of the record's first chunk
	var rec []byte // the record's data so far
	for off := first; off < n; {
		room := blockSize - off%blockSize
		if room < headerSize {
			off += room // the trailer: goleveldb's reader skips it unread
			continue
		}
		if off+headerSize > n {
			return tornAt(b, valid, off, "chunk header cut short by the end of the file"), nil
		}
		sum := binary.LittleEndian.Uint32(b[off : off+4])
		length := int(binary.LittleEndian.Uint16(b[off+4 : off+6]))
		typ := b[off+6]
		if typ < fullChunk || typ > lastChunk {
			if allZero(b[off:]) {
				return torn(n, valid, off, "zero bytes to the end of the file"), nil
			}
			return damaged(n, valid, off, fmt.Sprintf("invalid chunk type %#x", typ)), nil
		}
		end := off + headerSize + length
		if length > room-headerSize {
			return damaged(n, valid, off, "chunk length overflows its block"), nil
		}
		if end > n {
			return tornAt(b, valid, off, "chunk cut short by the end of the file"), nil
		}
		if util.NewCRC(b[off+6:end]).Value() != sum {
			return damaged(n, valid, off, "chunk checksum mismatch"), nil
		}
		data := b[off+headerSize : end]
		whole := false
		switch {
		case typ == fullChunk && !inRec:
			start, rec, whole = off, data, true
		case typ == firstChunk && !inRec:
			inRec, start, rec = true, off, append([]byte(nil), data...)
		case typ == middleChunk && inRec:
			rec = append(rec, data...)
		case typ == lastChunk && inRec:
			inRec, rec, whole = false, append(rec, data...), true
		default:
			return damaged(n, valid, off, fmt.Sprintf("chunk of type %d out of order", typ)), nil
		}
		if whole {
			if fn != nil {
				if err := fn(int64(start), rec); err != nil {
					return Tail{Size: int64(n), Valid: int64(valid), At: int64(start)}, err
				}
			}
			valid = end
		}
		off = end
	}
	if inRec {
		return torn(n, valid, n, "record missing its last chunk at the end of the file"), nil
	}
	return Tail{Size: int64(n), Valid: int64(n)}, nil
}

// tornAt is torn, unless the chunk at off (whose header is whole) is in
// fact a whole chunk with a damaged length field (see flippedLength).
func tornAt(b []byte, valid, off int, reason string) Tail {
	if off+headerSize <= len(b) {
		if l, ok := flippedLength(b, off); ok {
			return damaged(len(b), valid, off, fmt.Sprintf("%s, but its first %d bytes match its checksum: a damaged length, not a torn append", reason, l))
		}
	}
	return torn(len(b), valid, off, reason)
}

// flippedLength reports whether the chunk at off, whose length field runs
// past the end of the file, is a whole chunk of another length l: the
// checksum of its type and first l data bytes is the header's, and the file
// ends right after them or a valid chunk starts there. An append that was
// cut short cannot look like that (the checksum covers the whole data it
// was going to write), short of a 1 in 2^32 coincidence followed by a valid
// chunk; bytes a client wrote inside the torn record cannot either, since
// the match must be the header's own checksum at a chunk boundary.
func flippedLength(b []byte, off int) (int, bool) {
	sum := binary.LittleEndian.Uint32(b[off : off+4])
	room := blockSize - off%blockSize
	most := min(len(b)-off-headerSize, room-headerSize)
	c := util.NewCRC(b[off+6 : off+7])
	for l := 0; l <= most; l++ {
		if l > 0 {
			c = c.Update(b[off+6+l : off+7+l])
		}
		if c.Value() != sum {
			continue
		}
		if next := off + headerSize + l; next == len(b) || chunkAt(b, next) {
			return l, true
		}
	}
	return 0, false
}

// chunkAt reports whether a whole chunk with a valid checksum starts at p
// (or, when p is in a block's trailer, at the next block), or the file ends
// in that trailer.
func chunkAt(b []byte, p int) bool {
	if room := blockSize - p%blockSize; room < headerSize {
		p += room
	}
	if p >= len(b) {
		return p == len(b)
	}
	if p+headerSize > len(b) {
		return false
	}
	room := blockSize - p%blockSize
	typ := b[p+6]
	length := int(binary.LittleEndian.Uint16(b[p+4 : p+6]))
	if typ < fullChunk || typ > lastChunk || length > room-headerSize || p+headerSize+length > len(b) {
		return false
	}
	return util.NewCRC(b[p+6:p+headerSize+length]).Value() == binary.LittleEndian.Uint32(b[p:p+4])
}

func torn(n, valid, at int, reason string) Tail {
	return Tail{Size: int64(n), Valid: int64(valid), Torn: true, Reason: reason, At: int64(at)}
}

func damaged(n, valid, at int, reason string) Tail {
	return Tail{Size: int64(n), Valid: int64(valid), Reason: reason, At: int64(at)}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
