package supervisor

import (
	"errors"

	"github.com/custodian-dev/custodian/internal/tables"
)

// opError wraps err with the table and operation, unless it already is (or
// wraps) a *tables.OpError of the same table and operation, so that a
// message names them once.
func opError(table, op string, err error) error {
	if err == nil {
		return nil
	}
	var oe *tables.OpError
	if errors.As(err, &oe) && oe.Table == table && oe.Op == op {
		return err
	}
	return &tables.OpError{Table: table, Op: op, Err: err}
}
