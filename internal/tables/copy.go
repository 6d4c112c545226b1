package tables

import (
	"context"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/iterator"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// copyBatchBytes is the size of the batches a copy writes.
const copyBatchBytes = 1 << 20

// bulkWrite is the WriteOptions of a copy into a new database: not synced
// record by record; the copy's files and directory are fsynced once it is
// closed (syncTree).
func bulkWrite() *opt.WriteOptions { return &opt.WriteOptions{NoWriteMerge: true} }

// copyInto writes every record of it into dst in batches and returns the
// records, bytes and digest of what it copied. total (records, 0 if
// unknown) feeds progress.
func copyInto(ctx context.Context, it iterator.Iterator, dst *leveldb.DB, total int64, progress Progress) (VerifyResult, error) {
	defer it.Release()
	var b leveldb.Batch
	var size int
	var werr error
	flush := func() error {
		if b.Len() == 0 {
			return nil
		}
		err := dst.Write(&b, bulkWrite())
		b.Reset()
		size = 0
		return err
	}
	res, err := scanAll(ctx, it, total, progress, func(k, v []byte) error {
		b.Put(k, v)
		size += len(k) + len(v)
		if size >= copyBatchBytes {
			if err := flush(); err != nil {
				werr = err
				return err
			}
		}
		return nil
	})
	if err != nil {
		if werr != nil {
			return VerifyResult{}, &dstError{werr}
		}
		return VerifyResult{}, err
	}
	if err := flush(); err != nil {
		return VerifyResult{}, &dstError{err}
	}
	return res, nil
}

// dstError marks an error of the database being written (a copy), as
// opposed to the live table being read: it is not the table's corruption.
type dstError struct{ err error }

func (e *dstError) Error() string { return "writing the copy: " + e.err.Error() }
