// Package notifier turns the events of the CUSTODIAN_EVENTS stream into push
// notifications: it reads the notifying events through a durable JetStream
// consumer, renders them for a person woken at night, and delivers them to
// webhook and ntfy sinks at least once and never twice to a sink that has
// already answered 2xx for an event.
package notifier

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// Defaults of the flags and of the knobs that have no flag.
const (
	DefaultName         = "notifier"
	DefaultGiveUp       = time.Hour
	DefaultBurst        = 10
	DefaultBurstWindow  = 30 * time.Second
	DefaultBackoffBase  = time.Second
	DefaultBackoffMax   = 5 * time.Minute
	DefaultGroupWait    = time.Second
	DefaultAckWait      = 30 * time.Second
	DefaultHTTPTimeout  = 10 * time.Second
	DefaultDeliveredTTL = 7 * 24 * time.Hour
	DefaultMaxPending   = 1000
)

// Config is what Run needs. Register fills the flag-backed fields; the zero
// value of every other field means its default.
type Config struct {
	Name          string        // durable consumer name and node of notification.* events
	Prefix        string        // subject prefix (the caller's --prefix), default "custodian"
	Webhooks      []string      // --webhook URLs
	WebhookSecret string        // --webhook-secret: HMAC-SHA256 key for X-Custodian-Signature
	Ntfys         []string      // --ntfy topic URLs
	NtfyToken     string        // --ntfy-token: Authorization: Bearer
	GiveUp        time.Duration // --give-up: per event and sink, then notification.failed
	Burst         int           // --burst: more than this many per sink within BurstWindow make a digest
	BurstWindow   time.Duration // --burst-window

	// Knobs without flags (tests shorten them).
	BackoffBase  time.Duration // first retry delay, doubling (default 1 s)
	BackoffMax   time.Duration // retry delay cap (default 5 min)
	GroupWait    time.Duration // how long a new notification waits for others that may join a digest (default 1 s)
	AckWait      time.Duration // consumer AckWait; in-flight messages are kept in progress (default 30 s)
	HTTPTimeout  time.Duration // per request (default 10 s)
	DeliveredTTL time.Duration // how long the delivered set remembers an event (default 7 days)
	MaxPending   int           // consumer MaxAckPending (default 1000)
	Log          *slog.Logger  // nil: slog.Default()
}

// stringList is a repeatable string flag.
type stringList struct{ dst *[]string }

func (s stringList) String() string {
	if s.dst == nil {
		return ""
	}
	return strings.Join(*s.dst, ",")
}

func (s stringList) Set(v string) error {
	*s.dst = append(*s.dst, v)
	return nil
}

// Register adds --name, --webhook, --webhook-secret, --ntfy, --ntfy-token,
// --give-up, --burst and --burst-window to fs. --prefix belongs to the
// caller, which sets c.Prefix.
func (c *Config) Register(fs *flag.FlagSet) {
	fs.StringVar(&c.Name, "name", DefaultName, "notifier name: durable consumer name (same name shares the work, another name gets every event again)")
	fs.Var(stringList{&c.Webhooks}, "webhook", "webhook URL to POST JSON notifications to (repeatable)")
	fs.StringVar(&c.WebhookSecret, "webhook-secret", "", "secret for the X-Custodian-Signature header (HMAC-SHA256 of the body)")
	fs.Var(stringList{&c.Ntfys}, "ntfy", "ntfy topic URL, e.g. https://ntfy.sh/mytopic (repeatable)")
	fs.StringVar(&c.NtfyToken, "ntfy-token", "", "ntfy access token (Authorization: Bearer)")
	c.GiveUp, c.Burst, c.BurstWindow = DefaultGiveUp, DefaultBurst, DefaultBurstWindow
	fs.Var(positive[time.Duration]{&c.GiveUp, time.ParseDuration}, "give-up", "stop retrying a sink for an event after this `duration` and publish notification.failed")
	fs.Var(positive[int]{&c.Burst, strconv.Atoi}, "burst", "more than this `number` of notifications to one sink within --burst-window are sent as one digest")
	fs.Var(positive[time.Duration]{&c.BurstWindow, time.ParseDuration}, "burst-window", "the window of --burst (a `duration`)")
}

// positive is a flag of a number or duration that must be above zero: in a
// Config, zero means "the default", so a flag set to 0 (or less) would be
// replaced silently; the flag refuses it instead.
type positive[T int | time.Duration] struct {
	dst   *T
	parse func(string) (T, error)
}

func (p positive[T]) String() string {
	if p.dst == nil {
		return ""
	}
	return fmt.Sprint(*p.dst)
}

func (p positive[T]) Set(v string) error {
	n, err := p.parse(v)
	if err != nil {
		return err
	}
	if n <= 0 {
		return errors.New("must be above zero")
	}
	*p.dst = n
	return nil
}

// HasSinks reports whether at least one sink is configured.
func (c Config) HasSinks() bool { return len(c.Webhooks)+len(c.Ntfys) > 0 }

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	defaultTo(&c.Name, DefaultName)
	defaultTo(&c.Prefix, events.DefaultPrefix)
	defaultTo(&c.GiveUp, DefaultGiveUp)
	defaultTo(&c.Burst, DefaultBurst)
	defaultTo(&c.BurstWindow, DefaultBurstWindow)
	defaultTo(&c.BackoffBase, DefaultBackoffBase)
	defaultTo(&c.BackoffMax, DefaultBackoffMax)
	defaultTo(&c.GroupWait, DefaultGroupWait)
	defaultTo(&c.AckWait, DefaultAckWait)
	defaultTo(&c.HTTPTimeout, DefaultHTTPTimeout)
	defaultTo(&c.DeliveredTTL, DefaultDeliveredTTL)
	defaultTo(&c.MaxPending, DefaultMaxPending)
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// Validate checks the configuration without connecting anywhere.
func (c Config) Validate() error {
	c = c.withDefaults()
	if !events.ValidNode(c.Name) {
		return fmt.Errorf("--name %q: want letters, digits, '-' or '_' (at most 64)", c.Name)
	}
	if !events.ValidPrefix(c.Prefix) {
		return fmt.Errorf("--prefix %q: not a subject prefix", c.Prefix)
	}
	if !c.HasSinks() {
		return errors.New("no sink: give at least one --webhook or --ntfy")
	}
	for _, u := range c.Webhooks {
		if err := checkURL(u); err != nil {
			return fmt.Errorf("--webhook: %w", err)
		}
	}
	for _, u := range c.Ntfys {
		if err := checkURL(u); err != nil {
			return fmt.Errorf("--ntfy: %w", err)
		}
	}
	switch {
	case c.GiveUp < 0:
		return fmt.Errorf("--give-up %s: must be positive", c.GiveUp)
	case c.Burst < 0:
		return fmt.Errorf("--burst %d: must be positive", c.Burst)
	case c.BurstWindow < 0:
		return fmt.Errorf("--burst-window %s: must be positive", c.BurstWindow)
	case c.BackoffBase < 0 || c.BackoffMax < c.BackoffBase:
		return fmt.Errorf("backoff %s..%s: base must be positive and at most max", c.BackoffBase, c.BackoffMax)
	}
	return nil
}

func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q: want an http:// or https:// URL", s)
	}
	return nil
}

// claimLease is how long a notifier's claim on a (sink, event) pair lasts
// without a refresh: after that (the notifier died) another one takes it.
func (c Config) claimLease() time.Duration { return 2 * c.AckWait }

// defaultTo sets *v to d when it holds its type's zero value.
func defaultTo[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}
