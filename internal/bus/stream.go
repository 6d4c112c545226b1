package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
)

// Stream defaults. An event is a few hundred bytes: 10 GiB holds tens of
// millions of them; 90 days is the audit horizon.
const (
	DefaultStreamMaxAge     = 90 * 24 * time.Hour
	DefaultStreamMaxBytes   = int64(10 << 30)
	DefaultStreamMaxMsgs    = int64(-1) // unlimited (bounded by bytes and age)
	DefaultStreamReplicas   = 1
	DefaultStreamDuplicates = 2 * time.Minute
	// MinStreamDuplicates is the shortest duplicate window the contract
	// allows: a retried publish after a reconnect must still be recognised.
	MinStreamDuplicates = 2 * time.Minute
)

// StreamConfig configures CUSTODIAN_EVENTS. A zero field takes its default.
type StreamConfig struct {
	Prefix     string        // subject prefix (default "custodian")
	Replicas   int           // default 1
	MaxAge     time.Duration // default 90 days
	MaxBytes   int64         // default 10 GiB; -1 unlimited
	MaxMsgs    int64         // default unlimited (-1)
	Duplicates time.Duration // default and minimum 2 minutes
	// StatsKeep is CUSTODIAN_STATS's limit of messages per table (per
	// subject): default DefaultStatsKeep. The stats stream takes Prefix,
	// Replicas, MaxAge, MaxBytes and Duplicates from the fields above (see
	// StatsJetStreamConfig).
	StatsKeep int64
}

func (c StreamConfig) withDefaults() (StreamConfig, error) {
	if c.Prefix == "" {
		c.Prefix = events.DefaultPrefix
	}
	if !events.ValidPrefix(c.Prefix) {
		return c, fmt.Errorf("stream %s: invalid subject prefix %q", events.StreamName, c.Prefix)
	}
	if c.Replicas == 0 {
		c.Replicas = DefaultStreamReplicas
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return c, fmt.Errorf("stream %s: replicas %d out of range 1..5", events.StreamName, c.Replicas)
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultStreamMaxAge
	}
	if c.MaxAge < 0 {
		return c, fmt.Errorf("stream %s: negative max age %s", events.StreamName, c.MaxAge)
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultStreamMaxBytes
	}
	if c.MaxMsgs == 0 {
		c.MaxMsgs = DefaultStreamMaxMsgs
	}
	if c.Duplicates == 0 {
		c.Duplicates = DefaultStreamDuplicates
	}
	if c.Duplicates < MinStreamDuplicates {
		return c, fmt.Errorf("stream %s: duplicate window %s is below the minimum %s", events.StreamName, c.Duplicates, MinStreamDuplicates)
	}
	if c.StatsKeep == 0 {
		c.StatsKeep = DefaultStatsKeep
	}
	if c.StatsKeep < 1 {
		return c, fmt.Errorf("stream %s: stats_keep %d must be at least 1", events.StatsStreamName, c.StatsKeep)
	}
	if c.MaxAge > 0 && c.Duplicates > c.MaxAge {
		return c, fmt.Errorf("stream %s: duplicate window %s exceeds max age %s", events.StreamName, c.Duplicates, c.MaxAge)
	}
	return c, nil
}

// JetStreamConfig is the jetstream configuration EnsureStream applies.
func (c StreamConfig) JetStreamConfig() (jetstream.StreamConfig, error) {
	c, err := c.withDefaults()
	if err != nil {
		return jetstream.StreamConfig{}, err
	}
	return jetstream.StreamConfig{
		Name:        events.StreamName,
		Description: "Custodian events: every maintenance command and outcome (append-only audit log)",
		Subjects:    []string{events.StreamSubjects(c.Prefix)},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
		Replicas:    c.Replicas,
		MaxAge:      c.MaxAge,
		MaxBytes:    c.MaxBytes,
		MaxMsgs:     c.MaxMsgs,
		Duplicates:  c.Duplicates,
		DenyDelete:  true,
		DenyPurge:   true,
	}, nil
}

// EnsureStream creates CUSTODIAN_EVENTS or updates it to cfg, retrying while
// the server says JetStream is not ready yet (a cluster forming: errors
// 10008 and 10005, or no responders on the API) until ctx ends; a lasting
// 10005 (a cluster too small for the replicas) is so reported only then,
// with what the server said. A create the server could not carry out
// (10049) is tried storeAttempts times in all: right after the account's
// last stream was deleted, nats-server removes the account's empty store
// directory in a goroutine, and a create that runs at that moment fails
// once (the outbox's OnNoStream does exactly that create). A lasting
// failure (disk full, permissions) is still returned.
//
// It also creates or updates CUSTODIAN_STATS (EnsureStatsStream), where the
// table.stats go: a supervisor publishes to both. A CUSTODIAN_EVENTS made
// by an older version (which took table.stats too) is updated in place:
// its subjects, <prefix>.events.>, do not take the stats subjects
// (<prefix>.stats.>), so new table.stats go to CUSTODIAN_STATS and the old
// ones stay where they are. It returns CUSTODIAN_EVENTS.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	scfg, err := cfg.JetStreamConfig()
	if err != nil {
		return nil, err
	}
	st, err := ensure(ctx, js, scfg)
	if err != nil {
		return nil, err
	}
	if _, err := EnsureStatsStream(ctx, js, cfg); err != nil {
		return nil, err
	}
	return st, nil
}

// ensure creates or updates the stream scfg names as EnsureStream says.
func ensure(ctx context.Context, js jetstream.JetStream, scfg jetstream.StreamConfig) (jetstream.Stream, error) {
	wait := 100 * time.Millisecond
	// told is the last answer of the server itself: when ctx ends an
	// attempt, the error says why the earlier ones failed.
	var told error
	storeFailures := 0
	for {
		attemptCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		s, err := js.CreateOrUpdateStream(attemptCtx, scfg)
		cancel()
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			return nil, ensureGaveUp(scfg.Name, ctx.Err(), told)
		}
		if storeFailed(err) {
			storeFailures++
		}
		if !transientJSError(err) && !(storeFailed(err) && storeFailures < storeAttempts) {
			return nil, fmt.Errorf("stream %s: create or update: %w", scfg.Name, err)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			told = err
		}
		select {
		case <-ctx.Done():
			return nil, ensureGaveUp(scfg.Name, ctx.Err(), told)
		case <-time.After(wait):
		}
		if wait < 2*time.Second {
			wait *= 2
		}
	}
}

func ensureGaveUp(name string, ctxErr, told error) error {
	if told == nil {
		return fmt.Errorf("stream %s: create or update: %w", name, ctxErr)
	}
	return fmt.Errorf("stream %s: create or update: %w (the server said: %v)", name, ctxErr, told)
}

// jsClusterNotAvail is JetStream's "cluster not available / temporarily
// unavailable" error code.
const jsClusterNotAvail jetstream.ErrorCode = 10008

// jsNoPeers is "no suitable peers for placement": on a cluster that is
// forming, the meta leader is elected before it has heard of every peer.
// (On a cluster too small for the replicas it lasts: EnsureStream then
// returns it when ctx ends.)
const jsNoPeers jetstream.ErrorCode = 10005

// jsStreamCreateFailed is the error code of a stream create the server
// could not carry out (nats-server's generic create error); its store
// failing ("error creating store for stream") is one of its causes.
const jsStreamCreateFailed jetstream.ErrorCode = 10049

// storeAttempts bounds the attempts at a create that failed so.
const storeAttempts = 3

// storeFailed reports whether err is a stream create the server could not
// carry out (10049, which "error creating store for stream" is); it is
// tried again storeAttempts times at most, so another cause of 10049 is
// still returned at once after them.
func storeFailed(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jsStreamCreateFailed
}

// transientJSError reports whether err means "JetStream is not ready yet".
func transientJSError(err error) bool {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode == jsClusterNotAvail || apiErr.ErrorCode == jsNoPeers || apiErr.Code == 503
	}
	return errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrConnectionReconnecting) ||
		errors.Is(err, nats.ErrDisconnected)
}
