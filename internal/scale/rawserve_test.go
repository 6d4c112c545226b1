package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/syndtr/goleveldb/leveldb"
)

// Subjects of the latency baselines' responders.
const (
	rawOpenSubject   = "scale.raw.open"
	rawClosedSubject = "scale.raw.closed"
)

// serveRaw answers the latency baselines on its own connection to url, as
// the supervisor answers gets from its process:
//
//	scale.raw.open    {"key":K}: a get on one goleveldb database held open
//	scale.raw.closed  {"table":T,"key":K}: open T's database, get, close
//
// Each reply is {"key":K,"value":V}, as a supervisor's get reply.
func serveRaw(tb testing.TB, url, dir string) {
	tb.Helper()
	nc, err := nats.Connect(url, nats.Name("scale-raw-baseline"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	open, err := leveldb.OpenFile(filepath.Join(dir, tableName(0)), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = open.Close() })
	type req struct {
		Table string `json:"table"`
		Key   string `json:"key"`
	}
	reply := func(m *nats.Msg, db *leveldb.DB, key string) error {
		v, err := db.Get([]byte(key), nil)
		if err != nil {
			return err
		}
		out, err := json.Marshal(map[string]any{"key": key, "value": json.RawMessage(v)})
		if err != nil {
			return err
		}
		return m.Respond(out)
	}
	fail := func(m *nats.Msg, err error) {
		out, _ := json.Marshal(map[string]any{"error": map[string]string{"code": "internal", "message": err.Error()}})
		_ = m.Respond(out)
	}
	if _, err := nc.Subscribe(rawOpenSubject, func(m *nats.Msg) {
		var r req
		if err := json.Unmarshal(m.Data, &r); err != nil {
			fail(m, err)
			return
		}
		if err := reply(m, open, r.Key); err != nil {
			fail(m, err)
		}
	}); err != nil {
		tb.Fatal(err)
	}
	if _, err := nc.Subscribe(rawClosedSubject, func(m *nats.Msg) {
		var r req
		if err := json.Unmarshal(m.Data, &r); err != nil {
			fail(m, err)
			return
		}
		db, err := leveldb.OpenFile(filepath.Join(dir, r.Table), nil)
		if err != nil {
			fail(m, err)
			return
		}
		err = reply(m, db, r.Key)
		if cerr := db.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			fail(m, err)
		}
	}); err != nil {
		tb.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		tb.Fatal(err)
	}
}

// timedPair runs a and b n times each, alternately (a, b, a, b, ...: a
// load that comes and goes on a shared machine falls on both), one at a
// time, and returns each one's latencies.
func timedPair(ctx context.Context, n int, a, b func(ctx context.Context, i int) error) (da, db []time.Duration, err error) {
	da, db = make([]time.Duration, 0, n), make([]time.Duration, 0, n)
	once := func(op func(ctx context.Context, i int) error, i int) (time.Duration, error) {
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		start := time.Now()
		err := op(rctx, i)
		return time.Since(start), err
	}
	for i := range n {
		d, err := once(a, i)
		if err != nil {
			return da, db, fmt.Errorf("sample %d: %w", i, err)
		}
		da = append(da, d)
		if d, err = once(b, i); err != nil {
			return da, db, fmt.Errorf("baseline sample %d: %w", i, err)
		}
		db = append(db, d)
	}
	return da, db, nil
}
