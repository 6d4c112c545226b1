package supervisor

import (
	"fmt"
	"strings"
)

// opError wraps err with the table and operation, unless tables already did
// (its errors read "table <name>: <op>: ..."), so that a message names them
// once.
func opError(table, op string, err error) error {
	if err == nil {
		return nil
	}
	prefix := fmt.Sprintf("table %s: %s", table, op)
	if strings.HasPrefix(err.Error(), prefix) {
		return err
	}
	return fmt.Errorf("%s: %w", prefix, err)
}
