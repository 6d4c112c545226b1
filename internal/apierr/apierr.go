// Package apierr carries the contract's error codes from the storage core to
// the edges (NATS replies, HTTP answers) without either side importing the
// other.
package apierr

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is one of the error codes of the contract.
type Code string

// The contract's error codes.
const (
	InvalidRequest   Code = "invalid_request"
	InvalidTable     Code = "invalid_table"
	NotFound         Code = "not_found"
	Busy             Code = "busy"
	TooLarge         Code = "too_large"
	TableUnavailable Code = "table_unavailable"
	NoSpace          Code = "no_space" // a write refused for lack of disk space
	Internal         Code = "internal"
)

// Status is the HTTP-style status the contract gives each code; NATS service
// errors carry it in Nats-Service-Error-Code.
func (c Code) Status() int {
	switch c {
	case InvalidRequest, InvalidTable:
		return http.StatusBadRequest
	case NotFound:
		return http.StatusNotFound
	case Busy:
		return http.StatusConflict
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	case TableUnavailable:
		return http.StatusServiceUnavailable
	case NoSpace:
		return http.StatusInsufficientStorage
	default:
		return http.StatusInternalServerError
	}
}

// Error is an error with a contract code. Err, when set, is the cause.
type Error struct {
	Code    Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil && e.Message == "" {
		return fmt.Sprintf("%s: %v", e.Code, e.Err)
	}
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// New returns an *Error with a formatted message.
func New(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with a formatted message and a cause.
func Wrap(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// CodeOf finds the contract code in err's chain; an error without one is
// internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// MessageOf is the message to show a client: the *Error's message and cause
// when there is one, the error text otherwise.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		switch {
		case e.Message != "" && e.Err != nil:
			return e.Message + ": " + e.Err.Error()
		case e.Message != "":
			return e.Message
		case e.Err != nil:
			return e.Err.Error()
		}
	}
	return err.Error()
}
