package projections

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/custodian-dev/custodian/internal/events"
)

// decoder reads events from the stream's JSON. It gives the same Event as
// events.Unmarshal for every event the supervisor writes (decode_test.go
// checks that) in a fraction of the time and allocations: a replay of the
// whole stream spends most of its CPU here. Field names match exactly
// (encoding/json would also accept other cases).
type decoder struct {
	r   bytes.Reader
	dec *jsontext.Decoder
}

func newDecoder() *decoder {
	d := &decoder{}
	d.dec = jsontext.NewDecoder(&d.r)
	return d
}

// decode is a one-off decoder call, for tests and rare paths.
func decode(b []byte) (events.Event, error) { return newDecoder().decode(b) }

var errMissingIDType = errors.New("missing id or type")

func (d *decoder) decode(b []byte) (events.Event, error) {
	d.r.Reset(b)
	d.dec.Reset(&d.r, jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))
	e, err := d.event()
	if err == nil {
		if _, terr := d.dec.ReadToken(); terr != io.EOF {
			err = errors.New("data after the event")
		}
	}
	if err == nil && (e.ID == "" || e.Type == "") {
		err = errMissingIDType
	}
	if err != nil {
		return events.Event{}, fmt.Errorf("event: unmarshal: %w", err)
	}
	return e, nil
}

func (d *decoder) event() (events.Event, error) {
	var e events.Event
	if err := d.open('{'); err != nil {
		return e, err
	}
	for d.dec.PeekKind() != '}' {
		name, err := d.dec.ReadValue()
		if err != nil {
			return e, err
		}
		var ferr error
		switch string(name) {
		case `"id"`:
			ferr = d.str(&e.ID)
		case `"type"`:
			ferr = d.str(&e.Type)
		case `"time"`:
			var s string
			if ferr = d.str(&s); ferr == nil && s != "" {
				e.Time, ferr = time.Parse(time.RFC3339, s)
			}
		case `"node"`:
			ferr = d.str(&e.Node)
		case `"table"`:
			ferr = d.str(&e.Table)
		case `"command_id"`:
			ferr = d.str(&e.CommandID)
		case `"trigger"`:
			ferr = d.str(&e.Trigger)
		case `"attempt"`:
			var n int64
			ferr = d.integer(&n)
			e.Attempt = int(n)
		case `"result"`:
			ferr = d.str(&e.Result)
		case `"duration_ms"`:
			ferr = d.integer(&e.DurationMS)
		case `"error"`:
			ferr = d.str(&e.Error)
		case `"data"`:
			if d.dec.PeekKind() == 'n' {
				_, ferr = d.dec.ReadToken()
				break
			}
			var v any
			if v, ferr = d.value(); ferr == nil {
				m, ok := v.(map[string]any)
				if !ok {
					ferr = errors.New("data is not an object")
				}
				e.Data = m
			}
		default:
			ferr = d.dec.SkipValue()
		}
		if ferr != nil {
			return e, fmt.Errorf("field %s: %w", name, ferr)
		}
	}
	_, err := d.dec.ReadToken()
	return e, err
}

func (d *decoder) open(kind jsontext.Kind) error {
	tok, err := d.dec.ReadToken()
	if err != nil {
		return err
	}
	if tok.Kind() != kind {
		return fmt.Errorf("want %v, got %v", kind, tok.Kind())
	}
	return nil
}

// str reads a string; null leaves dst alone, as encoding/json does.
func (d *decoder) str(dst *string) error {
	tok, err := d.dec.ReadToken()
	if err != nil {
		return err
	}
	switch tok.Kind() {
	case '"':
		*dst = tok.String()
		return nil
	case 'n':
		return nil
	}
	return fmt.Errorf("want a string, got %v", tok.Kind())
}

// integer reads an integer as encoding/json does: no fraction, no exponent.
func (d *decoder) integer(dst *int64) error {
	v, err := d.dec.ReadValue()
	if err != nil {
		return err
	}
	switch v.Kind() {
	case 'n':
		return nil
	case '0':
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err != nil {
			return err
		}
		*dst = n
		return nil
	}
	return fmt.Errorf("want a number, got %v", v.Kind())
}

// value reads any JSON value into the types encoding/json gives an any.
func (d *decoder) value() (any, error) {
	switch d.dec.PeekKind() {
	case '{':
		if _, err := d.dec.ReadToken(); err != nil {
			return nil, err
		}
		m := map[string]any{}
		for d.dec.PeekKind() != '}' {
			name, err := d.dec.ReadToken()
			if err != nil {
				return nil, err
			}
			key := name.String() // before the next read voids the token
			v, err := d.value()
			if err != nil {
				return nil, err
			}
			m[key] = v
		}
		_, err := d.dec.ReadToken()
		return m, err
	case '[':
		if _, err := d.dec.ReadToken(); err != nil {
			return nil, err
		}
		a := []any{}
		for d.dec.PeekKind() != ']' {
			v, err := d.value()
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := d.dec.ReadToken()
		return a, err
	}
	tok, err := d.dec.ReadToken()
	if err != nil {
		return nil, err
	}
	switch tok.Kind() {
	case '"':
		return tok.String(), nil
	case '0':
		return tok.Float(), nil
	case 't', 'f':
		return tok.Bool(), nil
	case 'n':
		return nil, nil
	}
	return nil, fmt.Errorf("unexpected %v", tok.Kind())
}
