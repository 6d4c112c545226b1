package notifier

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Ledger values of an (event, sink) pair. sent and failed are final: the
// pair is never sent again. A claim marks the notifier working on it.
const (
	stateSent   = "sent"   // the sink answered 2xx
	stateFailed = "failed" // given up; notification.failed is in the stream
	claimPrefix = "claim " // + instance: being delivered; lapses after the lease
)

// claimState is the outcome of acquire.
type claimState int

const (
	claimOwned claimState = iota // this notifier may send
	claimDone                    // sent or given up already
	claimBusy                    // another live notifier holds the claim
)

// ledger is the delivered set: a JetStream key-value bucket keyed by
// <sink key>.<event id>, shared by every replica and kept across restarts.
type ledger struct {
	kv  jetstream.KeyValue
	now func() time.Time // time.Now; a test's clock

	mu sync.Mutex
	// seen holds, per key, the other notifier's claim this one last saw
	// and when (by this notifier's clock): a claim lapses when its
	// revision has not moved for a lease. Judging by the server's
	// timestamp instead would mix two clocks: a notifier running ahead
	// of the server would take live claims over.
	seen map[string]sighting
}

// seenPrune is how many sightings the ledger holds before it drops old ones.
const seenPrune = 1024

// sighting is a claim of another notifier as this one saw it.
type sighting struct {
	rev uint64
	at  time.Time
}

// LedgerBucket is the name of the key-value bucket of the delivered set for
// a subject prefix.
func LedgerBucket(prefix string) string {
	return strings.ReplaceAll(prefix, ".", "_") + "_notified"
}

func openLedger(ctx context.Context, js jetstream.JetStream, prefix string, ttl time.Duration, replicas int) (*ledger, error) {
	if replicas < 1 {
		replicas = 1
	}
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      LedgerBucket(prefix),
		Description: "custodian notifier: (sink, event) pairs already delivered or given up",
		TTL:         ttl,
		Storage:     jetstream.FileStorage,
		History:     1,
		// As many replicas as the event stream: on a cluster, losing one
		// server must not stop notifications.
		Replicas: replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("notifier: open delivered set %s: %w", LedgerBucket(prefix), err)
	}
	return newLedger(kv, time.Now), nil
}

func newLedger(kv jetstream.KeyValue, now func() time.Time) *ledger {
	return &ledger{kv: kv, now: now, seen: map[string]sighting{}}
}

// kvToken matches what a key token may hold; event ids (UUIDs) do.
var kvToken = regexp.MustCompile(`^[-_=A-Za-z0-9]{1,128}$`)

// ledgerKey is <sink key>.<event id>; an id that cannot stand in a key (an
// event from a foreign publisher) is replaced by its hash.
func ledgerKey(sink, eventID string) string {
	if !kvToken.MatchString(eventID) {
		sum := sha256.Sum256([]byte(eventID))
		eventID = "h-" + hex.EncodeToString(sum[:16])
	}
	return sink + "." + eventID
}

// acquire claims (sink, event) for instance with an atomic create, or takes
// over a claim that has lapsed (see lapse) with a compare-and-set on its
// revision. It returns the claim's revision when owned, and how long to
// wait when busy.
func (l *ledger) acquire(ctx context.Context, sink, eventID, instance string, lease time.Duration) (claimState, uint64, time.Duration, error) {
	key := ledgerKey(sink, eventID)
	mine := claimPrefix + instance
	rev, err := l.kv.Create(ctx, key, []byte(mine))
	if err == nil {
		l.forget(key)
		return claimOwned, rev, 0, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return 0, 0, 0, fmt.Errorf("notifier: delivered set: claim %s %s: %w", sink, eventID, err)
	}
	e, err := l.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return claimBusy, 0, 0, nil // removed meanwhile: try again
	}
	if err != nil {
		return 0, 0, 0, fmt.Errorf("notifier: delivered set: get %s %s: %w", sink, eventID, err)
	}
	v := string(e.Value())
	if v == stateSent || v == stateFailed {
		l.forget(key)
		return claimDone, 0, 0, nil
	}
	if strings.HasPrefix(v, claimPrefix) && v != mine {
		if left := l.lapse(key, e.Revision(), lease); left > 0 {
			return claimBusy, 0, left, nil
		}
	}
	rev, err = l.kv.Update(ctx, key, []byte(mine), e.Revision())
	if err != nil {
		return claimBusy, 0, 0, nil // another notifier took it first: look again
	}
	l.forget(key)
	return claimOwned, rev, 0, nil
}

// lapse returns how long the claim at rev on key has left: a lease from
// when this notifier first saw that revision, by its own clock (the holder
// renews its claim every lease/3, which moves the revision).
func (l *ledger) lapse(key string, rev uint64, lease time.Duration) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if len(l.seen) >= seenPrune {
		// Sightings of pairs this notifier stopped waiting for (it was
		// stopped, or gave the event back) would stay forever otherwise; one
		// that old would be a lapsed claim anyway, and is simply seen anew.
		for k, s := range l.seen {
			if now.Sub(s.at) > 2*lease {
				delete(l.seen, k)
			}
		}
	}
	s, ok := l.seen[key]
	if !ok || s.rev != rev {
		s = sighting{rev: rev, at: now}
		l.seen[key] = s
	}
	return lease - now.Sub(s.at)
}

func (l *ledger) forget(key string) {
	l.mu.Lock()
	delete(l.seen, key)
	l.mu.Unlock()
}

// refresh renews instance's claim on (sink, event), if it still holds it.
func (l *ledger) refresh(ctx context.Context, sink, eventID, instance string, rev uint64) (uint64, error) {
	next, err := l.kv.Update(ctx, ledgerKey(sink, eventID), []byte(claimPrefix+instance), rev)
	if err != nil {
		return 0, fmt.Errorf("notifier: delivered set: refresh claim %s %s: %w", sink, eventID, err)
	}
	return next, nil
}

// release deletes instance's claim on (sink, event) if it is still at rev.
func (l *ledger) release(ctx context.Context, sink, eventID string, rev uint64) error {
	if err := l.kv.Delete(ctx, ledgerKey(sink, eventID), jetstream.LastRevision(rev)); err != nil {
		return fmt.Errorf("notifier: delivered set: release claim %s %s: %w", sink, eventID, err)
	}
	return nil
}

// mark records (sink, event) as done.
func (l *ledger) mark(ctx context.Context, sink, eventID, state string) error {
	if _, err := l.kv.PutString(ctx, ledgerKey(sink, eventID), state); err != nil {
		return fmt.Errorf("notifier: delivered set: mark %s %s %s: %w", sink, eventID, state, err)
	}
	return nil
}
