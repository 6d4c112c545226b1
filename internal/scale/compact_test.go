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

// compactAll publishes custodian.node.<node>.compact with body (as
// `nats pub` would: no reply is asked, so the supervisor does not wait for
// ten thousand outcomes to answer) and returns how long it took until
// every one of the n tables has published its compaction.completed or
// compaction.skipped event. A compaction.failed or a command.rejected of a
// manual command fails it at once.
func compactAll(ctx context.Context, nc *nats.Conn, node string, n int, body string) (time.Duration, error) {
	var mu sync.Mutex
	done := map[string]bool{}
	var failure error
	changed := make(chan struct{}, 1)
	handle := func(m *nats.Msg) {
		var e events.Event
		if err := json.Unmarshal(m.Data, &e); err != nil || e.Trigger != events.TriggerManual {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch e.Type {
		case events.CompactionCompleted, events.CompactionSkipped:
			done[e.Table] = true
		case events.CompactionFailed, events.CommandRejected:
			if failure == nil {
				failure = fmt.Errorf("table %s: %s: %s", e.Table, e.Type, e.Error)
			}
		default:
			return
		}
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	base := fmt.Sprintf("%s.events.%s.*.", events.DefaultPrefix, node)
	for _, filter := range []string{base + "compaction.*", base + events.CommandRejected} {
		sub, err := nc.Subscribe(filter, handle)
		if err != nil {
			return 0, fmt.Errorf("subscribe %s: %w", filter, err)
		}
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			return 0, err
		}
		defer func() { _ = sub.Unsubscribe() }()
	}
	if err := nc.FlushWithContext(ctx); err != nil {
		return 0, err
	}
	start := time.Now()
	subject := events.NodeSubject(events.DefaultPrefix, node, events.VerbCompact)
	if err := nc.Publish(subject, []byte(body)); err != nil {
		return 0, fmt.Errorf("publish %s: %w", subject, err)
	}
	for {
		mu.Lock()
		count, err := len(done), failure
		mu.Unlock()
		if err != nil {
			return 0, fmt.Errorf("node-wide compaction: %w", err)
		}
		if count >= n {
			return time.Since(start), nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, fmt.Errorf("node-wide compaction: %d of %d tables done: %w", count, n, ctx.Err())
		}
	}
}
