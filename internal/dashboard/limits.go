package dashboard

import (
	"flag"
	"fmt"
	"time"
)

// Defaults of Limits. A live-update client costs a connection (a file
// descriptor of the process, which the in-process dashboard shares with the
// tables) and a few tens of KB (docs/benchmarks/dashboard.md).
const (
	DefaultMaxStreams        = 256
	DefaultMaxStreamsPerAddr = 16
	DefaultReadTimeout       = 10 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 2 * time.Minute
	// streamRetryAfter is the Retry-After of a refused event stream.
	streamRetryAfter = 15 * time.Second // the page retries as often
)

// Limits bound what HTTP clients may hold of the dashboard. Zero means the
// default.
type Limits struct {
	// MaxStreams caps the concurrent GET /api/stream clients; one more is
	// refused with 503 too_many_streams and a Retry-After (the page then
	// polls). MaxStreamsPerAddr caps those of one remote address (at most
	// MaxStreams; behind a reverse proxy every client has the proxy's
	// address, so give it MaxStreams there).
	MaxStreams        int
	MaxStreamsPerAddr int
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing an answer. An event stream gets it anew
	// for each write (a client that stops reading is dropped), an action
	// that waits for its command gets it past the command's timeout.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle this long.
	IdleTimeout time.Duration
}

// Register adds the limits' flags to fs, each name prefixed with prefix
// ("" for cmd/dashboard, "dashboard-" for the supervisor's in-process one),
// and sets the defaults.
func (l *Limits) Register(fs *flag.FlagSet, prefix string) {
	*l = Limits{}.withDefaults()
	fs.IntVar(&l.MaxStreams, prefix+"max-streams", l.MaxStreams, "live-update (SSE) clients at once; more are refused with 503 and the page polls")
	fs.IntVar(&l.MaxStreamsPerAddr, prefix+"max-streams-per-addr", l.MaxStreamsPerAddr, "live-update clients at once from one remote address (behind a reverse proxy: as --"+prefix+"max-streams)")
	fs.DurationVar(&l.ReadTimeout, prefix+"read-timeout", l.ReadTimeout, "time to read a whole request, body included")
	fs.DurationVar(&l.WriteTimeout, prefix+"write-timeout", l.WriteTimeout, "time to write an answer (per write for live updates)")
	fs.DurationVar(&l.IdleTimeout, prefix+"idle-timeout", l.IdleTimeout, "keep-alive connections idle this long are closed")
}

// Validate refuses limits below one (a flag given 0 would otherwise mean
// the default without a word).
func (l Limits) Validate(prefix string) error {
	for _, n := range []struct {
		name string
		v    int64
	}{
		{"max-streams", int64(l.MaxStreams)},
		{"max-streams-per-addr", int64(l.MaxStreamsPerAddr)},
		{"read-timeout", int64(l.ReadTimeout)},
		{"write-timeout", int64(l.WriteTimeout)},
		{"idle-timeout", int64(l.IdleTimeout)},
	} {
		if n.v <= 0 {
			return fmt.Errorf("--%s%s must be above zero", prefix, n.name)
		}
	}
	return nil
}

// withDefaults fills zero limits; the per-address cap is at most the cap.
func (l Limits) withDefaults() Limits {
	if l.MaxStreams <= 0 {
		l.MaxStreams = DefaultMaxStreams
	}
	if l.MaxStreamsPerAddr <= 0 {
		l.MaxStreamsPerAddr = DefaultMaxStreamsPerAddr
	}
	l.MaxStreamsPerAddr = min(l.MaxStreamsPerAddr, l.MaxStreams)
	if l.ReadTimeout <= 0 {
		l.ReadTimeout = DefaultReadTimeout
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = DefaultWriteTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	return l
}
