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
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	switch r.verb {
	case OpPut:
		var b putBody
		if err := decodeStrict(r.data, &b, false); err != nil {
			return nil, err
		}
		if b.Key == nil {
			return nil, missing("key")
		}
		if len(b.Value) == 0 {
			return nil, missing("value")
		}
		if err := t.Put(ctx, *b.Key, b.Value); err != nil {
			return nil, err
		}
		return WriteReply{OK: true, Key: *b.Key}, nil
	case OpGet:
		var b keyBody
		if err := decodeStrict(r.data, &b, false); err != nil {
			return nil, err
		}
		if b.Key == nil {
			return nil, missing("key")
		}
		v, err := t.Get(ctx, *b.Key)
		if err != nil {
			return nil, err
		}
		return GetReply{Key: *b.Key, Value: v}, nil
	case OpDelete:
		var b keyBody
		if err := decodeStrict(r.data, &b, false); err != nil {
			return nil, err
		}
		if b.Key == nil {
			return nil, missing("key")
		}
		if err := t.Delete(ctx, *b.Key); err != nil {
			return nil, err
		}
		return WriteReply{OK: true, Key: *b.Key}, nil
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
