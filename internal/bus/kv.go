package bus

import (
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
		ops, err := decodeBatch(r.data)
		if err != nil {
			return nil, err
		}
		if err := t.Batch(ctx, ops); err != nil {
			return nil, err
		}
		return WriteReply{OK: true, Ops: len(ops)}, nil
	default: // OpScan
		q, err := decodeScan(r.data)
		if err != nil {
			return nil, err
		}
		res, err := t.Scan(ctx, q.Prefix, q.After, q.Limit)
		if err != nil {
			return nil, err
		}
		if res.Items == nil {
			res.Items = []tables.Item{}
		}
		return res, nil
	}
}
