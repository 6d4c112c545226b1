package scale

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custodian-dev/custodian/internal/events"
)

// client talks to a supervisor over NATS exactly as an application would:
// the node and kv subjects, JSON bodies, one request at a time per call.
type client struct {
	nc   *nats.Conn
	node string
}

// replyError is the {"error":{"code","message"}} of a refused request.
type replyError struct {
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// request sends body to subject and returns the reply, or an error for no
// reply, a reply that is not JSON, or an error reply.
func (c client) request(ctx context.Context, subject string, body any) ([]byte, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	msg, err := c.nc.RequestWithContext(ctx, subject, data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", subject, err)
	}
	var re replyError
	if err := json.Unmarshal(msg.Data, &re); err != nil {
		return nil, fmt.Errorf("%s: reply is not JSON: %q", subject, msg.Data)
	}
	if re.Error != nil {
		return nil, fmt.Errorf("%s: %s: %s", subject, re.Error.Code, re.Error.Message)
	}
	return msg.Data, nil
}

// create creates table with custodian.node.<node>.create.
func (c client) create(ctx context.Context, table string) error {
	_, err := c.request(ctx, events.NodeSubject(events.DefaultPrefix, c.node, events.VerbCreate),
		map[string]string{"table": table})
	return err
}

// put writes key in table.
func (c client) put(ctx context.Context, table, key string, value any) error {
	_, err := c.request(ctx, events.KVSubject(events.DefaultPrefix, table, "put"),
		map[string]any{"key": key, "value": value})
	return err
}

// get reads key from table and returns its value (JSON).
func (c client) get(ctx context.Context, table, key string) (json.RawMessage, error) {
	b, err := c.request(ctx, events.KVSubject(events.DefaultPrefix, table, "get"), map[string]string{"key": key})
	if err != nil {
		return nil, err
	}
	var r struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("get %s %s: %w", table, key, err)
	}
	return r.Value, nil
}

// status asks custodian.node.<node>.status (an answer: the node serves).
func (c client) status(ctx context.Context) error {
	_, err := c.request(ctx, events.NodeSubject(events.DefaultPrefix, c.node, events.VerbStatus), struct{}{})
	return err
}

// tableName is the name of the harness's i-th table.
func tableName(i int) string { return fmt.Sprintf("t%05d", i) }

// keysPerTable is how many keys the harness writes to each table.
const keysPerTable = 3

// keyValue is the value of key k of table i.
func keyValue(i, k int) map[string]int { return map[string]int{"table": i, "key": k} }

// fill creates tables [from, to) and writes keysPerTable keys to each,
// workers requests in flight.
func (c client) fill(ctx context.Context, from, to, workers int) error {
	return parallel(ctx, from, to, workers, func(ctx context.Context, i int) error {
		name := tableName(i)
		if err := c.create(ctx, name); err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
		for k := range keysPerTable {
			if err := c.put(ctx, name, fmt.Sprintf("k%d", k), keyValue(i, k)); err != nil {
				return fmt.Errorf("put %s k%d: %w", name, k, err)
			}
		}
		return nil
	})
}

// checkValues reads key k1 of tables [from, to) and checks what was written.
func (c client) checkValues(ctx context.Context, from, to, workers int) error {
	return parallel(ctx, from, to, workers, func(ctx context.Context, i int) error {
		got, err := c.get(ctx, tableName(i), "k1")
		if err != nil {
			return err
		}
		want, _ := json.Marshal(keyValue(i, 1))
		if string(got) != string(want) {
			return fmt.Errorf("get %s k1: %s, want %s", tableName(i), got, want)
		}
		return nil
	})
}

// waitServing polls a get of k0 on table until it succeeds and returns how
// long that took from start. No responders, a timeout or an error reply
// (the table still opening) mean "not yet"; it fails when the supervisor
// exits or ctx ends, with the last answer.
func (c client) waitServing(ctx context.Context, p *supervisorProc, table string, start time.Time) (time.Duration, error) {
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.get(rctx, table, "k0")
		cancel()
		if err == nil {
			return time.Since(start), nil
		}
		if p.exited() {
			return 0, p.exitError()
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("table %s not served (last answer: %v): %w", table, err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitStatus polls node status until the node answers.
func (c client) waitStatus(ctx context.Context, p *supervisorProc) error {
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := c.status(rctx)
		cancel()
		if err == nil {
			return nil
		}
		if p.exited() {
			return p.exitError()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s does not answer its status: %v: %w", c.node, err, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// parallel runs f for every i in [from, to) with workers goroutines and
// returns the first error (the others stop taking work).
func parallel(ctx context.Context, from, to, workers int, f func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(ctx, i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := from; i < to; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}
