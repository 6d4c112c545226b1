package notifier

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Ledger states of an (event, sink) pair. A pair with any state is done:
// never sent again.
const (
	stateSent   = "sent"   // the sink answered 2xx
	stateFailed = "failed" // given up; notification.failed is in the stream
)

// ledger is the delivered set: a JetStream key-value bucket keyed by
// <sink key>.<event id>, shared by every replica and kept across restarts.
type ledger struct {
	kv jetstream.KeyValue
}

// LedgerBucket is the name of the key-value bucket of the delivered set for
// a subject prefix.
func LedgerBucket(prefix string) string {
	return strings.ReplaceAll(prefix, ".", "_") + "_notified"
}

func openLedger(ctx context.Context, js jetstream.JetStream, prefix string, ttl time.Duration) (*ledger, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      LedgerBucket(prefix),
		Description: "custodian notifier: (sink, event) pairs already delivered or given up",
		TTL:         ttl,
		Storage:     jetstream.FileStorage,
		History:     1,
	})
	if err != nil {
		return nil, fmt.Errorf("notifier: open delivered set %s: %w", LedgerBucket(prefix), err)
	}
	return &ledger{kv: kv}, nil
}

func ledgerKey(sink, eventID string) string { return sink + "." + eventID }

// state returns the recorded state of (sink, event), "" when none.
func (l *ledger) state(ctx context.Context, sink, eventID string) (string, error) {
	e, err := l.kv.Get(ctx, ledgerKey(sink, eventID))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("notifier: delivered set: get %s %s: %w", sink, eventID, err)
	}
	return string(e.Value()), nil
}

// mark records (sink, event) as done.
func (l *ledger) mark(ctx context.Context, sink, eventID, state string) error {
	if _, err := l.kv.PutString(ctx, ledgerKey(sink, eventID), state); err != nil {
		return fmt.Errorf("notifier: delivered set: mark %s %s %s: %w", sink, eventID, state, err)
	}
	return nil
}
