package notifier

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A claim lapses when its revision has not moved for a lease by this
// notifier's own clock, whatever the server's clock says: here this
// notifier runs an hour ahead of the server, which made every live claim
// look lapsed when the claim's server timestamp was compared with the
// local time.
func TestClaimLapsesByThisNotifiersClock(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := openLedger(ctx, e.js, testPrefix, time.Hour, 1)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Now().Add(time.Hour)}
	me := newLedger(l.kv, clock.now)
	const lease = 10 * time.Second
	const sink, id = "webhook-1", "01a2179a-5bef-7a4b-8fe9-4a10fdcb5dc2"

	// Another notifier holds the claim.
	rev, err := l.kv.Create(ctx, ledgerKey(sink, id), []byte(claimPrefix+"other"))
	if err != nil {
		t.Fatal(err)
	}
	acquire := func(wantState claimState, wantWait time.Duration) {
		t.Helper()
		st, _, wait, err := me.acquire(ctx, sink, id, "me", lease)
		if err != nil || st != wantState || wait != wantWait {
			t.Fatalf("acquire: state %d wait %s err %v, want state %d wait %s", st, wait, err, wantState, wantWait)
		}
	}
	acquire(claimBusy, lease)
	clock.advance(lease / 2)
	acquire(claimBusy, lease/2)

	// The holder renews its claim: a full lease again from now.
	if rev, err = l.kv.Update(ctx, ledgerKey(sink, id), []byte(claimPrefix+"other"), rev); err != nil {
		t.Fatal(err)
	}
	acquire(claimBusy, lease)
	clock.advance(lease - time.Second)
	acquire(claimBusy, time.Second)

	// The holder is gone: after a lease without a renewal, this notifier
	// takes the claim over.
	clock.advance(time.Second)
	acquire(claimOwned, 0)
	got, err := l.kv.Get(ctx, ledgerKey(sink, id))
	if err != nil || string(got.Value()) != claimPrefix+"me" || got.Revision() == rev {
		t.Fatalf("after the takeover the pair holds %q (err %v)", got.Value(), err)
	}
	if len(me.seen) != 0 {
		t.Errorf("%d sightings kept after the takeover", len(me.seen))
	}

	// Done pairs are done for everyone.
	if err := l.mark(ctx, sink, id, stateSent); err != nil {
		t.Fatal(err)
	}
	acquire(claimDone, 0)
}

// Sightings of claims this notifier stopped waiting for are dropped once
// they are old, so that the map does not grow for the life of the process.
func TestOldSightingsAreDropped(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1000, 0)}
	l := newLedger(nil, clock.now)
	const lease = time.Second
	for i := range seenPrune {
		l.lapse(fmt.Sprintf("k%d", i), 1, lease)
	}
	clock.advance(3 * lease)
	if left := l.lapse("fresh", 1, lease); left != lease {
		t.Fatalf("a new sighting has %s left, want %s", left, lease)
	}
	if len(l.seen) != 1 {
		t.Fatalf("%d sightings kept, want only the fresh one", len(l.seen))
	}
	// A sighting still within its lease is kept however many there are.
	for i := range seenPrune {
		l.lapse(fmt.Sprintf("k%d", i), 1, lease)
	}
	if left := l.lapse("fresh", 1, lease); left != lease || len(l.seen) != seenPrune+1 {
		t.Fatalf("left %s, %d sightings, want %s and %d", left, len(l.seen), lease, seenPrune+1)
	}
}
