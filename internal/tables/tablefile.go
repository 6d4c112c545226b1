package tables

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/golang/snappy"
	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	"github.com/syndtr/goleveldb/leveldb/storage"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// The goleveldb table file format (leveldb/table/table.go), as far as
// checkTableFile needs it: blocks, each followed by a 5-byte trailer (a
// compression type byte and the masked CRC-32C of the block and that
// byte), written back to back from offset 0 in this order:
//
//	data block 1 ... data block n | filter block? | metaindex | index | footer
//
// The 48-byte footer holds the metaindex and index block handles (two
// uvarints each: offset, length without trailer) and ends with the magic.
// The index block maps the data blocks in order; the metaindex has one
// entry "filter.<name>" with the filter block's handle when there is one.
const (
	tableTrailerLen = 5
	tableFooterLen  = 48
	tableMagic      = "\x57\xfb\x80\x8b\x24\x75\x47\xdb"
)

// blockHandle is the place of a block in a table file (length without the
// trailer).
type blockHandle struct{ offset, length uint64 }

func (h blockHandle) end() uint64 { return h.offset + h.length + tableTrailerLen }

// tableCheck checks one table file read whole into buf.
type tableCheck struct {
	path string
	num  int64
	buf  []byte
}

// checkTableFile reads the table file f (number num, at path) from disk and
// checks that its size is wantSize (the size the version records), that
// the CRC of every block (data, filter, metaindex, index) matches, and that
// the blocks and the footer cover the whole file with no gap, so that no
// byte of the file escapes a check (the footer has no checksum: its magic
// is checked and its handles must lead to blocks whose checksums match).
// It neither decompresses data blocks nor decodes their entries: a block
// whose checksum matches is the block goleveldb wrote.
//
// buf is a scratch buffer, returned grown for the next file. A mismatch is
// a *errors.ErrCorrupted (leveldb/errors) naming the file; an I/O error is
// returned as it is.
func checkTableFile(f *os.File, path string, num, wantSize int64, buf []byte) ([]byte, error) {
	fi, err := f.Stat()
	if err != nil {
		return buf, err
	}
	size := fi.Size()
	c := &tableCheck{path: path, num: num}
	if size != wantSize {
		return buf, c.corrupt("size is %d bytes, the database's version says %d", size, wantSize)
	}
	if size < tableFooterLen {
		return buf, c.corrupt("size %d is smaller than a footer", size)
	}
	if int64(cap(buf)) < size {
		buf = make([]byte, size)
	}
	c.buf = buf[:size]
	if _, err := f.ReadAt(c.buf, 0); err != nil && err != io.EOF {
		return buf, fmt.Errorf("read %s: %w", path, err)
	}
	return buf, c.run()
}

func (c *tableCheck) corrupt(format string, args ...any) error {
	return &lerrors.ErrCorrupted{
		Fd:  storage.FileDesc{Type: storage.TypeTable, Num: c.num},
		Err: fmt.Errorf("table file %s: %s", c.path, fmt.Sprintf(format, args...)),
	}
}

func (c *tableCheck) run() error {
	footerAt := uint64(len(c.buf) - tableFooterLen)
	footer := c.buf[footerAt:]
	if string(footer[tableFooterLen-len(tableMagic):]) != tableMagic {
		return c.corrupt("bad magic number in the footer")
	}
	metaBH, n := decodeHandle(footer)
	if n == 0 {
		return c.corrupt("bad metaindex block handle in the footer")
	}
	indexBH, m := decodeHandle(footer[n:])
	if m == 0 {
		return c.corrupt("bad index block handle in the footer")
	}
	if metaBH.end() != indexBH.offset || indexBH.end() != footerAt {
		return c.corrupt("metaindex %+v and index %+v blocks do not end at the footer (offset %d)", metaBH, indexBH, footerAt)
	}
	meta, err := c.block(metaBH, "metaindex")
	if err != nil {
		return err
	}
	var filterBH *blockHandle
	err = c.entries(meta, "metaindex", func(k, v []byte) error {
		if filterBH != nil || !strings.HasPrefix(string(k), "filter.") {
			return nil
		}
		h, n := decodeHandle(v)
		if n == 0 {
			return c.corrupt("bad filter block handle in the metaindex")
		}
		filterBH = &h
		return nil
	})
	if err != nil {
		return err
	}
	dataEnd := metaBH.offset
	if filterBH != nil {
		if filterBH.end() != metaBH.offset {
			return c.corrupt("filter block %+v does not end at the metaindex (offset %d)", *filterBH, metaBH.offset)
		}
		if _, err := c.block(*filterBH, "filter"); err != nil {
			return err
		}
		dataEnd = filterBH.offset
	}
	index, err := c.block(indexBH, "index")
	if err != nil {
		return err
	}
	next := uint64(0) // data blocks are back to back from offset 0
	err = c.entries(index, "index", func(_, v []byte) error {
		h, n := decodeHandle(v)
		if n == 0 {
			return c.corrupt("bad data block handle in the index")
		}
		if h.offset != next {
			return c.corrupt("data block %+v does not start where the previous one ends (%d)", h, next)
		}
		if _, err := c.block(h, "data"); err != nil {
			return err
		}
		next = h.end()
		return nil
	})
	if err != nil {
		return err
	}
	if next != dataEnd {
		return c.corrupt("data blocks end at %d, the next block starts at %d", next, dataEnd)
	}
	return nil
}

// block checks the checksum of the block at h and returns its contents,
// decompressed when it is compressed and decompress is needed (metaindex
// and index; data and filter blocks are only checked).
func (c *tableCheck) block(h blockHandle, kind string) ([]byte, error) {
	if h.offset > uint64(len(c.buf)) || h.length > uint64(len(c.buf)) || h.end() > uint64(len(c.buf)) {
		return nil, c.corrupt("%s block %+v is past the end of the file (%d bytes)", kind, h, len(c.buf))
	}
	b := c.buf[h.offset:h.end()]
	n := h.length + 1 // the block and its type byte
	want := binary.LittleEndian.Uint32(b[n:])
	if got := util.NewCRC(b[:n]).Value(); got != want {
		return nil, c.corrupt("%s block at offset %d (%d bytes): checksum mismatch, want=%#x got=%#x", kind, h.offset, h.length, want, got)
	}
	if kind == "data" || kind == "filter" {
		return nil, nil
	}
	switch b[h.length] {
	case 0:
		return b[:h.length], nil
	case 1:
		d, err := snappy.Decode(nil, b[:h.length])
		if err != nil {
			return nil, c.corrupt("%s block at offset %d: %v", kind, h.offset, err)
		}
		return d, nil
	default:
		return nil, c.corrupt("%s block at offset %d: unknown compression type %#x", kind, h.offset, b[h.length])
	}
}

// entries calls fn with every key and value of a block (the format of
// leveldb/table/reader.go: entries of shared, unshared and value lengths as
// uvarints, the unshared key bytes and the value; then the restart points
// and their count as little-endian uint32s).
func (c *tableCheck) entries(b []byte, kind string, fn func(k, v []byte) error) error {
	if len(b) < 4 {
		return c.corrupt("%s block too short", kind)
	}
	restarts := uint64(binary.LittleEndian.Uint32(b[len(b)-4:]))
	if restarts > uint64(len(b)-4)/4 {
		return c.corrupt("%s block: bad restart count %d", kind, restarts)
	}
	end := len(b) - 4 - 4*int(restarts)
	var key []byte
	for pos := 0; pos < end; {
		var v [3]uint64
		for i := range v {
			x, n := binary.Uvarint(b[pos:end])
			if n <= 0 {
				return c.corrupt("%s block: bad entry header at %d", kind, pos)
			}
			v[i] = x
			pos += n
		}
		shared, unshared, vlen := v[0], v[1], v[2]
		if shared > uint64(len(key)) || unshared > uint64(end-pos) || vlen > uint64(end-pos)-unshared {
			return c.corrupt("%s block: bad entry lengths at %d", kind, pos)
		}
		key = append(key[:shared], b[pos:pos+int(unshared)]...)
		pos += int(unshared)
		if err := fn(key, b[pos:pos+int(vlen)]); err != nil {
			return err
		}
		pos += int(vlen)
	}
	return nil
}

// decodeHandle decodes a block handle (two uvarints); n is 0 when src does
// not hold one.
func decodeHandle(src []byte) (h blockHandle, n int) {
	off, a := binary.Uvarint(src)
	if a <= 0 {
		return blockHandle{}, 0
	}
	length, b := binary.Uvarint(src[a:])
	if b <= 0 {
		return blockHandle{}, 0
	}
	return blockHandle{off, length}, a + b
}
