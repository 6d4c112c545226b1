package bus

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// Someone deletes CUSTODIAN_EVENTS while the supervisor runs: the events
// that follow wait in the outbox, the stream is created again through
// OnNoStream, and they are published in order, none lost.
func TestOutboxRecreatesADeletedStream(t *testing.T) {
	js := startStream(t)
	var recreated atomic.Int32
	o, err := OpenOutbox(filepath.Join(t.TempDir(), "outbox"), OutboxOptions{
		OnNoStream: func(ctx context.Context) error {
			recreated.Add(1)
			_, err := EnsureStream(ctx, js, StreamConfig{})
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	runOutbox(t, o, js)
	ctx := withTimeout(t, 60*time.Second)

	if err := o.Emit(ctx, testEvent(0)); err != nil {
		t.Fatal(err)
	}
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(ctx, events.StreamName); err != nil {
		t.Fatal(err)
	}
	var want []events.Event
	for i := 1; i <= 20; i++ {
		e := testEvent(i)
		if err := o.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
		want = append(want, e)
	}
	if err := o.Flush(ctx); err != nil {
		t.Fatalf("events after the stream was deleted never went out: %v (recreated %d times)", err, recreated.Load())
	}
	if recreated.Load() == 0 {
		t.Fatal("OnNoStream was never called")
	}
	checkStream(t, js, want)
}
