package bus

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// TestOutboxSurvivesNATSOutage stops a real nats-server for 10 s while
// events keep being emitted, starts it again on the same port and store,
// and checks that every event is in the stream exactly once, in order.
func TestOutboxSurvivesNATSOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s outage")
	}
	r := startOutageRig(t)
	nc, js, o := r.nc, r.js, r.o

	ctx := withTimeout(t, 2*time.Minute)
	var mu sync.Mutex
	var want []events.Event
	stop := make(chan struct{})
	emitted := make(chan error, 1)
	go func() {
		defer close(emitted)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			e := testEvent(i)
			if err := o.Emit(ctx, e); err != nil {
				emitted <- err
				return
			}
			mu.Lock()
			want = append(want, e)
			mu.Unlock()
		}
	}()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(want)
	}
	waitFor(t, ctx, func() bool { return count() >= 50 })

	r.stopServer()
	before := count()
	time.Sleep(10 * time.Second)
	during := count() - before
	depthDown := o.Depth()
	if during < 50 {
		t.Fatalf("only %d events emitted during the outage", during)
	}
	if depthDown < int64(during)/2 {
		t.Fatalf("outbox depth %d during the outage after %d emits: events were not kept", depthDown, during)
	}
	if st := o.Stats(); st.LastError == "" {
		t.Errorf("no publish error recorded during the outage: %+v", st)
	}

	r.restartServer(t)
	waitFor(t, ctx, func() bool { return nc.IsConnected() })
	after := count()
	waitFor(t, ctx, func() bool { return count() >= after+50 })
	close(stop)
	if err := <-emitted; err != nil {
		t.Fatalf("emit: %v", err)
	}
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d events, %d emitted during the 10 s outage (outbox depth %d then)", len(want), during, depthDown)
	checkStream(t, js, want)
}

func waitFor(t testing.TB, ctx context.Context, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("condition not met: %v", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
