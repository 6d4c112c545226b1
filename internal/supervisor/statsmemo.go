package supervisor

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// statsQuietFactor: a table whose figures did not change sends its
// periodic table.stats only every statsQuietFactor x stats_every (a sign
// of life, so that a view knows its figures are current).
const statsQuietFactor = 10

// statsMemo remembers the last periodic table.stats a table sent: its
// figures and when. It is used by the table's schedule goroutine only
// (emitStats), so it needs no lock.
//
// The figures are the event's result and error and every field of its
// data but the next_<op> times: sizes (bytes, records, dead_records,
// dead_ratio, dead_bytes), queue, whether writes work (writes,
// writes_code, writes_error, writes_since, journal_error), the off-site
// lag (journal_lag_ms, offsite_error), the running operation and its
// progress (running, running_command_id, progress_*). The event's time,
// id and the next_<op> times (which move with every schedule fire
// whether or not anything changed) are not figures.
type statsMemo struct {
	figures string    // the figures of the last one sent, "" before any
	sent    time.Time // when it was sent
}

// statsFigures is the comparable form of e's figures (see statsMemo).
func statsFigures(e events.Event) string {
	data := make(map[string]any, len(e.Data))
	for k, v := range e.Data {
		if !strings.HasPrefix(k, "next_") {
			data[k] = v
		}
	}
	b, err := json.Marshal(struct {
		Result string         `json:"result"`
		Error  string         `json:"error"`
		Data   map[string]any `json:"data"`
	}{e.Result, e.Error, data})
	if err != nil {
		// A figure that cannot be encoded (NaN): never equal, so the
		// event is sent (and the outbox says what is wrong with it).
		return ""
	}
	return string(b)
}

// due reports whether a periodic table.stats with these figures must be
// sent at now: the figures changed since the last one sent, or
// statsQuietFactor x every passed since then.
func (m *statsMemo) due(figures string, now time.Time, every time.Duration) bool {
	return figures == "" || figures != m.figures || m.sent.IsZero() || now.Sub(m.sent) >= statsQuietFactor*every
}

// record records a table.stats that went out.
func (m *statsMemo) record(figures string, now time.Time) {
	m.figures, m.sent = figures, now
}
