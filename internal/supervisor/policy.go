package supervisor

import (
	"cmp"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// Policy is the maintenance policy of a table. A zero field (in Config.Defaults
// or in a per-table override of Config.Tables) means "the default": an
// override's zero field takes Config.Defaults' value, and a zero field there
// takes DefaultPolicy's. A negative interval disables that schedule; a negative
// jitter means no jitter; a negative threshold means "never skip". Critical
// is a pointer so that "not set" (nil) differs from false: an override can
// say critical: false over defaults that say true.
type Policy struct {
	CompactEvery time.Duration `yaml:"compact_every" json:"compact_every"`
	BackupEvery  time.Duration `yaml:"backup_every" json:"backup_every"`
	VerifyEvery  time.Duration `yaml:"verify_every" json:"verify_every"`
	DrillEvery   time.Duration `yaml:"drill_every" json:"drill_every"`
	StatsEvery   time.Duration `yaml:"stats_every" json:"stats_every"`
	Jitter       float64       `yaml:"jitter" json:"jitter"`           // fraction of the interval, e.g. 0.1
	Threshold    float64       `yaml:"threshold" json:"threshold"`     // dead ratio below which an unforced compaction is skipped
	Mode         tables.Mode   `yaml:"mode" json:"mode"`               // default compaction mode
	Retention    int           `yaml:"retention" json:"retention"`     // backups kept
	RetryDelay   time.Duration `yaml:"retry_delay" json:"retry_delay"` // before a failed compaction's second attempt
	// Critical marks a table the node cannot do without: when it ends
	// degraded, the node reports itself failing (/healthz, node status),
	// and OnUnrecoverable says what else happens (see critical.go).
	Critical *bool `yaml:"critical" json:"critical,omitempty"`
	// OnUnrecoverable is what a critical table that ends degraded does to
	// the node: degrade (the default: only that table stops serving) or
	// stop (every table of the node stops serving data until that table is
	// restored or salvaged). It has no effect on a table that is not
	// critical.
	OnUnrecoverable Unrecoverable `yaml:"on_unrecoverable" json:"on_unrecoverable,omitempty"`
}

// Unrecoverable is the value of Policy.OnUnrecoverable.
type Unrecoverable string

// Values of Policy.OnUnrecoverable.
const (
	UnrecoverableDegrade Unrecoverable = "degrade"
	UnrecoverableStop    Unrecoverable = "stop"
)

// IsCritical reports whether p marks its table critical (Critical set and
// true).
func (p Policy) IsCritical() bool { return p.Critical != nil && *p.Critical }

// stopsNode reports whether a table of policy p that ends degraded stops the
// node: critical, with on_unrecoverable stop.
func (p Policy) stopsNode() bool {
	return p.IsCritical() && p.OnUnrecoverable == UnrecoverableStop
}

// Defaults of DefaultPolicy and Config.
const (
	DefaultCompactEvery  = time.Hour
	DefaultBackupEvery   = 6 * time.Hour
	DefaultVerifyEvery   = 24 * time.Hour
	DefaultDrillEvery    = 24 * time.Hour
	DefaultStatsEvery    = time.Minute
	DefaultJitter        = 0.1
	DefaultThreshold     = 0.20
	DefaultRetention     = 7
	DefaultRetryDelay    = 30 * time.Second
	DefaultMaxConcurrent = 2
	DefaultQueueSize     = 16
	DefaultShutdownGrace = 10 * time.Second
	// DefaultMaxOpenTables bounds the tables whose database is open at
	// once: an open table holds a 512 KiB memtable (4 MiB when it writes
	// fast), its part of the shared 64 MiB block cache and 4 files
	// (sizing is in package tables): 256 open tables stay under 1 GiB
	// with a quarter of them busy.
	DefaultMaxOpenTables = 256
	// DefaultIdleClose is how long a table goes without a request before
	// its database is closed (it opens again on the next request).
	DefaultIdleClose = 30 * time.Second
)

// DefaultPolicy is the policy of a table that the config does not mention:
//
//	compact_every 1h    a compaction is considered every hour (skipped below the threshold)
//	backup_every  6h    a backup every six hours, then pruning to retention
//	verify_every  24h   a full strict scan once a day
//	drill_every   24h   a restore drill once a day: the newest backup plus
//	                    the journal restored into a scratch directory and
//	                    compared with the live table
//	stats_every   1m    a table.stats event every minute
//	jitter        0.1   each interval is drawn from [0.9, 1.1] x the interval, so
//	                    tables opened together do not work in lockstep; the
//	                    first one after a start from [0.5, 1.5] x the interval
//	                    (or the jitter, when larger), so that the tables of a
//	                    node spread their work over a whole interval (a
//	                    negative jitter: exactly the interval, always)
//	threshold     0.20  an unforced compaction runs only when dead records are
//	                    at least 20% of live + dead
//	mode          auto  tables chooses native or rewrite
//	retention     7     backups kept per table
//	retry_delay   30s   before the one retry of a failed compaction
//	critical      false a table that ends degraded does not make the node
//	                    fail (true: /healthz and node status say failing)
//	on_unrecoverable    degrade: a critical table that ends degraded stops
//	                    serving alone (stop: the whole node stops serving
//	                    data until it is restored or salvaged; critical.go)
func DefaultPolicy() Policy {
	notCritical := false
	return Policy{
		CompactEvery: DefaultCompactEvery,
		BackupEvery:  DefaultBackupEvery,
		VerifyEvery:  DefaultVerifyEvery,
		DrillEvery:   DefaultDrillEvery,
		StatsEvery:   DefaultStatsEvery,
		Jitter:       DefaultJitter,
		Threshold:    DefaultThreshold,
		Mode:         tables.ModeAuto,
		Retention:    DefaultRetention,
		RetryDelay:   DefaultRetryDelay,

		Critical:        &notCritical,
		OnUnrecoverable: UnrecoverableDegrade,
	}
}

// over returns p with every zero field taken from base.
func (p Policy) over(base Policy) Policy {
	p.CompactEvery = cmp.Or(p.CompactEvery, base.CompactEvery)
	p.BackupEvery = cmp.Or(p.BackupEvery, base.BackupEvery)
	p.VerifyEvery = cmp.Or(p.VerifyEvery, base.VerifyEvery)
	p.DrillEvery = cmp.Or(p.DrillEvery, base.DrillEvery)
	p.StatsEvery = cmp.Or(p.StatsEvery, base.StatsEvery)
	p.Jitter = cmp.Or(p.Jitter, base.Jitter)
	p.Threshold = cmp.Or(p.Threshold, base.Threshold)
	p.Mode = cmp.Or(p.Mode, base.Mode)
	p.Retention = cmp.Or(p.Retention, base.Retention)
	p.RetryDelay = cmp.Or(p.RetryDelay, base.RetryDelay)
	if p.Critical == nil {
		p.Critical = base.Critical
	}
	p.OnUnrecoverable = cmp.Or(p.OnUnrecoverable, base.OnUnrecoverable)
	return p
}

// check reports a policy that cannot be applied.
func (p Policy) check() error {
	if !validMode(string(p.Mode)) || p.Mode == "" {
		return fmt.Errorf("mode %q: want auto, native or rewrite", p.Mode)
	}
	if math.IsNaN(p.Jitter) || p.Jitter >= 1 {
		return fmt.Errorf("jitter %v: want a fraction below 1", p.Jitter)
	}
	if math.IsNaN(p.Threshold) || p.Threshold > 1 {
		return fmt.Errorf("threshold %v: want a dead ratio of at most 1", p.Threshold)
	}
	if p.Retention < 1 {
		return fmt.Errorf("retention %d: want at least 1 backup", p.Retention)
	}
	if p.RetryDelay < 0 {
		return fmt.Errorf("retry_delay %v: want a positive delay", p.RetryDelay)
	}
	switch p.OnUnrecoverable {
	case UnrecoverableDegrade, UnrecoverableStop:
	default:
		return fmt.Errorf("on_unrecoverable %q: want degrade or stop", clip(string(p.OnUnrecoverable)))
	}
	return nil
}

// validMode reports whether m names a compaction mode; "" means the policy's.
func validMode(m string) bool {
	switch tables.Mode(m) {
	case "", tables.ModeAuto, tables.ModeNative, tables.ModeRewrite:
		return true
	}
	return false
}

// Config configures a Supervisor. Zero fields take the defaults above.
type Config struct {
	Node          string
	Defaults      Policy
	Tables        map[string]Policy // per-table overrides
	MaxConcurrent int               // tables doing maintenance at once (default 2)
	QueueSize     int               // commands queued per table (default 16)
	// ShutdownGrace is how long Run, once its context is done, lets running
	// work finish before cancelling it (default 10s; tables is crash-safe).
	ShutdownGrace time.Duration
	// MaxOpenTables bounds the tables whose database is open at once
	// (default 256); IdleClose is how long a table is idle before its
	// database is closed (default 30s). See package tables, sleep.go.
	MaxOpenTables int
	IdleClose     time.Duration
	// Log gets the lines of what an operator must know that is not an
	// event: the node stopped by a critical table, or a stop marker
	// cleared at start because the policy changed (nil: discarded).
	Log *slog.Logger
	// Offsite, when set, keeps off-site copies (package offsite, wired by
	// cmd/supervisor): every backup is uploaded, and table.stats reports
	// the journal's shipping lag.
	Offsite Offsite
	// Rebuilt names the tables whose backup and journal were fetched from
	// off-site at start (a node started on an empty data directory), each
	// with the newer off-site backups that could not be fetched whole
	// (damaged or missing objects): their restore at start says
	// data.source "offsite" and, when any, data.offsite_skipped.
	Rebuilt map[string][]string
}

// Validate reports the first setting of c that New or Open would refuse, as
// one line that names where it is: `defaults: mode "bogus": want auto,
// native or rewrite`, `overrides.users: threshold 1.5: want a dead ratio of
// at most 1`, `node "a.b": ...`. Overrides are checked in name order (each
// over the defaults, as the supervisor applies them). It changes nothing and
// needs nothing started, so a command can refuse a bad config before it
// opens anything.
func (c Config) Validate() error {
	_, err := c.normalize()
	return err
}

// normalize fills the defaults and checks every policy (see Validate for
// the errors).
func (c Config) normalize() (Config, error) {
	if !events.ValidNode(c.Node) {
		return c, fmt.Errorf("node %q: want one subject token of letters, digits, _ or -", c.Node)
	}
	c.MaxConcurrent = cmp.Or(c.MaxConcurrent, DefaultMaxConcurrent)
	if c.MaxConcurrent < 0 {
		return c, fmt.Errorf("max_concurrent %d: want at least 1", c.MaxConcurrent)
	}
	c.QueueSize = cmp.Or(c.QueueSize, DefaultQueueSize)
	if c.QueueSize < 0 {
		return c, fmt.Errorf("queue_size %d: want at least 1", c.QueueSize)
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	c.MaxOpenTables = cmp.Or(c.MaxOpenTables, DefaultMaxOpenTables)
	if c.MaxOpenTables < 0 {
		return c, fmt.Errorf("max_open_tables %d: want at least 1", c.MaxOpenTables)
	}
	c.IdleClose = cmp.Or(c.IdleClose, DefaultIdleClose)
	if c.IdleClose < 0 {
		return c, fmt.Errorf("idle_close %v: want a positive duration", c.IdleClose)
	}
	c.ShutdownGrace = cmp.Or(c.ShutdownGrace, DefaultShutdownGrace)
	if c.ShutdownGrace < 0 {
		return c, fmt.Errorf("shutdown_grace %v: want a positive duration", c.ShutdownGrace)
	}
	c.Defaults = c.Defaults.over(DefaultPolicy())
	if err := c.Defaults.check(); err != nil {
		return c, fmt.Errorf("defaults: %w", err)
	}
	names := make([]string, 0, len(c.Tables))
	for name := range c.Tables {
		names = append(names, name)
	}
	sort.Strings(names)
	over := make(map[string]Policy, len(c.Tables))
	for _, name := range names {
		if !events.ValidTable(name) {
			return c, fmt.Errorf("overrides: table %q: invalid table name: want ^[a-z0-9][a-z0-9_-]{0,63}$", clip(name))
		}
		p := c.Tables[name].over(c.Defaults)
		if err := p.check(); err != nil {
			return c, fmt.Errorf("overrides.%s: %w", name, err)
		}
		over[name] = p
	}
	c.Tables = over
	return c, nil
}

// policy is the effective policy of table name.
func (c Config) policy(name string) Policy {
	if p, ok := c.Tables[name]; ok {
		return p
	}
	return c.Defaults
}
