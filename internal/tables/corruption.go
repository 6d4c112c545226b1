package tables

import (
	"errors"
	"fmt"

	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	"github.com/syndtr/goleveldb/leveldb/storage"
)

// IsCorruption reports whether err (or anything it wraps) is a goleveldb
// corruption error of either type: *errors.ErrCorrupted (leveldb/errors) or
// *storage.ErrCorrupted. goleveldb's own errors.IsCorrupted is a type switch
// that misses wrapped errors, so errors.As is used for both.
func IsCorruption(err error) bool {
	if err == nil {
		return false
	}
	var e1 *lerrors.ErrCorrupted
	if errors.As(err, &e1) {
		return true
	}
	var e2 *storage.ErrCorrupted
	return errors.As(err, &e2)
}

// corrupted makes a corruption error of our own finding (e.g. a missing
// CURRENT file, which goleveldb reports as "does not exist") so that it
// classifies like goleveldb's own.
func corrupted(format string, args ...any) error {
	return &storage.ErrCorrupted{Err: fmt.Errorf(format, args...)}
}

// fail wraps err with the table and operation and, when it is a corruption,
// reports it to Options.OnCorruption. It must be called with no lock held.
func (t *Table) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	if IsCorruption(err) && t.store.opts.OnCorruption != nil {
		t.store.opts.OnCorruption(t.name, op, err)
	}
	return fmt.Errorf("table %s: %s: %w", t.name, op, err)
}

// failCopy is fail for work that reads the live table and writes a copy: an
// error of the copy (dstError) is wrapped without its corruption type, so
// that it is not taken for a corruption of the table.
func (t *Table) failCopy(op string, err error) error {
	var de *dstError
	if errors.As(err, &de) {
		return fmt.Errorf("table %s: %s: %v", t.name, op, err)
	}
	return t.fail(op, err)
}
