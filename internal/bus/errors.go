package bus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/jsonutf8"
)

// ErrorBody is the reply body of every failed request:
// {"error":{"code":"...","message":"..."}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the code and message of a failed request.
type ErrorDetail struct {
	Code    apierr.Code `json:"code"`
	Message string      `json:"message"`
}

// errorDetail turns any error into the contract's code and message.
func errorDetail(err error) ErrorDetail {
	return ErrorDetail{Code: apierr.CodeOf(err), Message: apierr.MessageOf(err)}
}

// replyMsg is the body and headers of a reply; the zero value sends
// nothing.
type replyMsg struct {
	data   []byte
	header nats.Header
}

// errorMsg is the reply to a failed request: the contract's body and the
// micro service error headers (Nats-Service-Error-Code is the HTTP-like
// status of the code, Nats-Service-Error the message).
func errorMsg(err error) replyMsg {
	d := errorDetail(err)
	body, merr := json.Marshal(ErrorBody{Error: d})
	if merr != nil {
		body = []byte(`{"error":{"code":"internal","message":"cannot encode error"}}`)
	}
	return replyMsg{
		header: nats.Header{
			micro.ErrorCodeHeader: []string{strconv.Itoa(d.Code.Status())},
			micro.ErrorHeader:     []string{headerSafe(d.Message)},
		},
		data: body,
	}
}

// headerSafe keeps a message on one header line.
func headerSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, s)
	if len(s) > 512 {
		s = events.Cut(s, 512) + "..."
	}
	if s == "" {
		s = "error"
	}
	return s
}

// decodeStrict decodes one JSON object from body into v: unknown fields,
// wrong types, trailing data, a body that is not an object and text that is
// not valid Unicode (see jsonutf8) are invalid_request. An empty body (or
// only JSON whitespace) decodes as {} when emptyOK, and is invalid_request
// otherwise.
func decodeStrict(body []byte, v any, emptyOK bool) error {
	trimmed := trimJSONSpace(body)
	if len(trimmed) == 0 {
		if emptyOK {
			return nil
		}
		return apierr.New(apierr.InvalidRequest, "empty body: a JSON object is required")
	}
	if trimmed[0] != '{' {
		return apierr.New(apierr.InvalidRequest, "body is not a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apierr.New(apierr.InvalidRequest, "invalid JSON body: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apierr.New(apierr.InvalidRequest, "invalid JSON body: data after the object")
	}
	// The decoder turns invalid UTF-8 and lone surrogate escapes into
	// U+FFFD: two different keys would become one. Refuse them instead.
	if err := jsonutf8.Check(trimmed); err != nil {
		return apierr.New(apierr.InvalidRequest, "invalid JSON body: %v (strings must be valid UTF-8, without lone surrogate escapes)", err)
	}
	return nil
}

// jsonProblem describes a decoding error without Go type names; what it
// repeats of the body is cut (events.Echo).
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "value"
		}
		want := jsonKind(te.Type.Kind())
		if num, ok := strings.CutPrefix(te.Value, "number "); ok && want == "integer" {
			if strings.Trim(num, "-0123456789") == "" {
				return fmt.Sprintf("field %q: %s is out of range for an integer", field, events.Echo(num))
			}
			return fmt.Sprintf("field %q: want an integer (digits only: no fraction, no exponent), got %s", field, events.Echo(num))
		}
		return fmt.Sprintf("field %q: wrong type %s, want %s", field, events.Echo(te.Value), want)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at byte %d", events.Echo(se.Error()), se.Offset)
	}
	// e.g. json: unknown field "<a name of any length>"
	return events.Echo(err.Error())
}

func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	default:
		return k.String()
	}
}
