package bus

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/tables"
)

// Data-plane operations (<prefix>.kv.<table>.<op>).
const (
	OpPut    = "put"
	OpGet    = "get"
	OpDelete = "delete"
	OpBatch  = "batch"
	OpScan   = "scan"
)

// Bodies of the data plane. Pointers tell a missing field from an empty one.
type (
	keyBody struct {
		Key *string `json:"key"`
	}
	putBody struct {
		Key   *string         `json:"key"`
		Value json.RawMessage `json:"value"`
	}
	batchBody struct {
		Ops *[]tables.Op `json:"ops"`
	}
	scanBody struct {
		Prefix string `json:"prefix"`
		After  string `json:"after"`
		Limit  *int   `json:"limit"`
	}
)

// Replies of the data plane.
type (
	// WriteReply answers put, delete (key) and batch (ops).
	WriteReply struct {
		OK  bool   `json:"ok"`
		Key string `json:"key,omitempty"`
		Ops int    `json:"ops,omitempty"`
	}
	// GetReply answers get.
	GetReply struct {
		Key   string          `json:"key"`
		Value json.RawMessage `json:"value"`
	}
)

// decodeKey decodes a {"key":...} body. The common exact form with a plain
// ASCII key is read without the JSON decoder (it is most of a get's cost);
// anything else goes through decodeStrict, so both give the same answer.
func decodeKey(body []byte) (string, error) {
	if k, ok := plainKey(body); ok {
		return k, nil
	}
	var b keyBody
	if err := decodeStrict(body, &b, false); err != nil {
		return "", err
	}
	if b.Key == nil {
		return "", missing("key")
	}
	return *b.Key, nil
}

// decodePut decodes a {"key":...,"value":...} body. The common exact form
// (plainPut) is read without the JSON decoder; anything else goes through
// decodeStrict, so both give the same answer.
func decodePut(body []byte) (string, json.RawMessage, error) {
	if k, v, ok := plainPut(body); ok {
		return k, v, nil
	}
	var b putBody
	if err := decodeStrict(body, &b, false); err != nil {
		return "", nil, err
	}
	if b.Key == nil {
		return "", nil, missing("key")
	}
	if len(b.Value) == 0 {
		return "", nil, missing("value")
	}
	return *b.Key, b.Value, nil
}

// plainPut reads exactly {"key":"k","value":v} (spaces around the object
// and around v allowed) where k is printable ASCII without quotes or
// escapes and v is one valid JSON value.
func plainPut(body []byte) (string, json.RawMessage, bool) {
	const pre, mid = `{"key":"`, `","value":`
	b := bytes.TrimSpace(body)
	if len(b) < len(pre)+len(mid)+2 || string(b[:len(pre)]) != pre || b[len(b)-1] != '}' {
		return "", nil, false
	}
	rest := b[len(pre) : len(b)-1]
	end := bytes.IndexByte(rest, '"')
	if end < 0 || !bytes.HasPrefix(rest[end:], []byte(mid)) {
		return "", nil, false
	}
	k := rest[:end]
	if !plainKeyBytes(k) {
		return "", nil, false
	}
	v := bytes.TrimSpace(rest[end+len(mid):])
	if len(v) == 0 || !json.Valid(v) {
		return "", nil, false
	}
	return string(k), json.RawMessage(v), true
}

// plainKey reads exactly {"key":"k"} (spaces around allowed) where k is
// printable ASCII without quotes or escapes.
func plainKey(body []byte) (string, bool) {
	const pre, post = `{"key":"`, `"}`
	b := bytes.TrimSpace(body)
	if len(b) < len(pre)+len(post) || string(b[:len(pre)]) != pre || string(b[len(b)-len(post):]) != post {
		return "", false
	}
	k := b[len(pre) : len(b)-len(post)]
	if !plainKeyBytes(k) {
		return "", false
	}
	return string(k), true
}

// plainKeyBytes reports whether k, the bytes between the quotes of a key,
// is printable ASCII without quotes or escapes: the JSON string's value is
// then k itself.
func plainKeyBytes(k []byte) bool {
	for _, c := range k {
		if c == '"' || c == '\\' || c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// getReply encodes {"key":k,"value":v}. The stored value is valid JSON
// (checked on put) and goes out as it is, without another pass of the
// encoder.
func getReply(key string, value json.RawMessage) (rawJSON, error) {
	if len(value) == 0 {
		value = json.RawMessage("null")
	}
	out := make([]byte, 0, len(key)+len(value)+22)
	out = append(out, `{"key":`...)
	if plainJSONString(key) {
		out = append(out, '"')
		out = append(out, key...)
		out = append(out, '"')
	} else {
		k, err := json.Marshal(key)
		if err != nil {
			return nil, err
		}
		out = append(out, k...)
	}
	out = append(out, `,"value":`...)
	out = append(out, value...)
	return append(out, '}'), nil
}

// writeReply encodes WriteReply{OK: true, Key: key} exactly as
// json.Marshal does, without the reflection of the encoder for the common
// key (printable ASCII that the encoder copies as it is).
func writeReply(key string) (rawJSON, error) {
	if key == "" {
		return rawJSON(`{"ok":true}`), nil
	}
	const pre = `{"ok":true,"key":"`
	if !plainJSONString(key) {
		k, err := json.Marshal(key)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 0, len(pre)+len(k)+1)
		out = append(out, pre[:len(pre)-1]...)
		out = append(out, k...)
		return append(out, '}'), nil
	}
	out := make([]byte, 0, len(pre)+len(key)+2)
	out = append(out, pre...)
	out = append(out, key...)
	return append(out, '"', '}'), nil
}

// plainJSONString reports whether encoding/json writes s between quotes
// unchanged: printable ASCII without '"', '\\' and the HTML characters
// '<', '>' and '&' that it escapes.
func plainJSONString(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c >= 0x7f, c == '"', c == '\\', c == '<', c == '>', c == '&':
			return false
		}
	}
	return true
}

func missing(field string) error {
	return apierr.New(apierr.InvalidRequest, "missing %q", field)
}

// handleKV serves <prefix>.kv.<table>.<op>.
func (s *Services) handleKV(ctx context.Context, table string, r request) (any, error) {
	switch r.verb {
	case OpPut, OpGet, OpDelete, OpBatch, OpScan:
	default:
		return nil, apierr.New(apierr.InvalidRequest, "unknown operation %q: want put, get, delete, batch or scan", clipName(r.verb))
	}
	t, err := s.b.Table(table)
	if err != nil {
		return nil, err
	}
	// No per-request deadline: a table call does not wait on anything but
	// the disk, and ctx ends when the services stop.
	switch r.verb {
	case OpPut:
		key, value, err := decodePut(r.data)
		if err != nil {
			return nil, err
		}
		if err := t.Put(ctx, key, value); err != nil {
			return nil, err
		}
		return writeReply(key)
	case OpGet:
		key, err := decodeKey(r.data)
		if err != nil {
			return nil, err
		}
		v, err := t.Get(ctx, key)
		if err != nil {
			return nil, err
		}
		return getReply(key, v)
	case OpDelete:
		key, err := decodeKey(r.data)
		if err != nil {
			return nil, err
		}
		if err := t.Delete(ctx, key); err != nil {
			return nil, err
		}
		return writeReply(key)
	case OpBatch:
		var b batchBody
		if err := decodeStrict(r.data, &b, false); err != nil {
			return nil, err
		}
		if b.Ops == nil {
			return nil, missing("ops")
		}
		if err := t.Batch(ctx, *b.Ops); err != nil {
			return nil, err
		}
		return WriteReply{OK: true, Ops: len(*b.Ops)}, nil
	default: // OpScan
		var b scanBody
		if err := decodeStrict(r.data, &b, true); err != nil {
			return nil, err
		}
		limit := 0
		if b.Limit != nil {
			if *b.Limit < 0 {
				return nil, apierr.New(apierr.InvalidRequest, "limit %d is negative", *b.Limit)
			}
			limit = *b.Limit
		}
		res, err := t.Scan(ctx, b.Prefix, b.After, limit)
		if err != nil {
			return nil, err
		}
		if res.Items == nil {
			res.Items = []tables.Item{}
		}
		return res, nil
	}
}
