package bus

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
)

// DefaultStatsKeep is how many table.stats CUSTODIAN_STATS keeps per table
// (per subject <prefix>.stats.<node>.<table>): a day of them at the
// default stats_every of one minute.
const DefaultStatsKeep = int64(1440)

// StatsJetStreamConfig is the configuration of CUSTODIAN_STATS that
// EnsureStatsStream (and EnsureStream) applies: subjects <prefix>.stats.>, at most StatsKeep
// messages per subject (the oldest go first), the events stream's
// replicas, max age, max bytes and duplicate window. It is not an audit
// log: unlike CUSTODIAN_EVENTS it may be purged.
func (c StreamConfig) StatsJetStreamConfig() (jetstream.StreamConfig, error) {
	c, err := c.withDefaults()
	if err != nil {
		return jetstream.StreamConfig{}, err
	}
	// The events stream's, but its own name and subjects, bounded per
	// subject instead of in messages, and purgeable.
	sc, err := c.JetStreamConfig()
	if err != nil {
		return jetstream.StreamConfig{}, err
	}
	sc.Name = events.StatsStreamName
	sc.Description = "Custodian table.stats: the newest figures of every table (not the audit log)"
	sc.Subjects = []string{events.StatsStreamSubjects(c.Prefix)}
	sc.MaxMsgs = -1
	sc.MaxMsgsPerSubject = c.StatsKeep
	sc.DenyDelete, sc.DenyPurge = false, false
	return sc, nil
}

// EnsureStatsStream creates CUSTODIAN_STATS or updates it to cfg, as
// EnsureStream does CUSTODIAN_EVENTS.
func EnsureStatsStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	scfg, err := cfg.StatsJetStreamConfig()
	if err != nil {
		return nil, err
	}
	return ensure(ctx, js, scfg)
}
