package tables

import (
	"errors"
	"fmt"

	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	"github.com/syndtr/goleveldb/leveldb/storage"

	"github.com/custodian-dev/custodian/internal/apierr"
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
//
// A corruption met by a data-plane operation (dataPlaneOp) is answered
// apierr.TableUnavailable, like the requests that follow it while the
// table is restored (the contract reserves 503 for a table restoring or
// degraded), instead of the internal error it would otherwise be. The
// *apierr.Error wraps the goleveldb error, so IsCorruption still holds.
// Maintenance operations keep their errors as they are.
func (t *Table) fail(op string, err error) error {
	if err == nil {
		return nil
	}
	if !IsCorruption(err) {
		return &OpError{Table: t.name, Op: op, Err: err}
	}
	if t.store.opts.OnCorruption != nil {
		t.store.opts.OnCorruption(t.name, op, err)
	}
	if dataPlaneOp(op) {
		return apierr.Wrap(apierr.TableUnavailable, err,
			"table %s: %s: corruption detected; the table is unavailable while it is restored", t.name, op)
	}
	return &OpError{Table: t.name, Op: op, Err: err}
}

// dataPlaneOp reports whether op names a data-plane operation (the op
// names ops.go and scan.go give fail).
func dataPlaneOp(op string) bool {
	switch op {
	case "get", "put", "delete", "batch", "scan":
		return true
	}
	return false
}

// failCopy is fail for work that reads the live table and writes a copy: an
// error of the copy (dstError) is wrapped without its corruption type, so
// that it is not taken for a corruption of the table.
func (t *Table) failCopy(op string, err error) error {
	var de *dstError
	if errors.As(err, &de) {
		return &OpError{Table: t.name, Op: op, Err: textError(err.Error())}
	}
	return t.fail(op, err)
}
