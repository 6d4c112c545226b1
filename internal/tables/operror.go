package tables

import "fmt"

// OpError is an error of an operation on a table, naming both: its message
// reads "table <name>: <op>: <cause>". Err is the cause (unwrapped by
// errors.Is and errors.As), except where fail strips a cause's type on
// purpose (failCopy), in which case Err keeps only its text.
type OpError struct {
	Table string
	Op    string
	Err   error
}

func (e *OpError) Error() string { return fmt.Sprintf("table %s: %s: %v", e.Table, e.Op, e.Err) }

// Unwrap is the cause.
func (e *OpError) Unwrap() error { return e.Err }

// opErrorf is an *OpError of table and op whose cause is
// fmt.Errorf(format, args...) (so %w wraps as usual).
func opErrorf(table, op, format string, args ...any) error {
	return &OpError{Table: table, Op: op, Err: fmt.Errorf(format, args...)}
}

// textError is an error of text only: it wraps nothing.
type textError string

func (e textError) Error() string { return string(e) }
