package projections

import (
	"strings"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// DefaultHistoryLimit is how many rows the history log keeps.
const DefaultHistoryLimit = 10000

// DefaultQueryLimit is how many rows a history query returns unless told.
const DefaultQueryLimit = 100

// Row is one line of the history log: the event as the stream carries it
// plus its stream sequence.
type Row struct {
	events.Event
	Seq uint64 `json:"seq"`
	// Stream is StatsStream for a table.stats of CUSTODIAN_STATS (Seq is
	// then a sequence of that stream), empty for a row of CUSTODIAN_EVENTS.
	Stream string `json:"stream,omitempty"`
}

// Filter selects history rows. Zero fields match everything.
type Filter struct {
	Node  string
	Table string
	Type  string // a type or a prefix of one: "compaction" matches compaction.*
	// Exclude leaves out rows whose type matches any of these, each a type
	// or a prefix as in Type ("table.stats", "command").
	Exclude []string
	Result  string
	Since   time.Time // rows at or after this time
	Before  uint64    // rows with a smaller sequence (paging)
	After   uint64    // rows with a greater sequence (catching up)
	Limit   int       // at most this many rows; 0 means DefaultQueryLimit
}

// Match reports whether a row passes the filter (Limit aside).
func (f Filter) Match(r Row) bool {
	if f.Before > 0 && r.Seq >= f.Before {
		return false
	}
	if r.Seq <= f.After {
		return false
	}
	if f.Node != "" && r.Node != f.Node {
		return false
	}
	if f.Table != "" && r.Table != f.Table {
		return false
	}
	if f.Type != "" && !typeMatches(r.Type, f.Type) {
		return false
	}
	for _, x := range f.Exclude {
		if typeMatches(r.Type, x) {
			return false
		}
	}
	if f.Result != "" && resultOf(r.Event) != f.Result {
		return false
	}
	if !f.Since.IsZero() && r.Time.Before(f.Since) {
		return false
	}
	return true
}

// typeMatches: "compaction" and "compaction." match every compaction.*
// type, "compaction.failed" matches itself only, "comp" matches nothing.
func typeMatches(typ, want string) bool {
	if typ == want {
		return true
	}
	want = strings.TrimSuffix(want, ".")
	return strings.HasPrefix(typ, want+".")
}

// KnownTypePrefix reports whether p names an event type of the contract or
// a family of them ("table.stats", "compaction", "compaction."), that is,
// whether it matches at least one type as Filter.Type and Filter.Exclude
// match them.
func KnownTypePrefix(p string) bool {
	if p == "" {
		return false
	}
	for _, t := range events.Types() {
		if typeMatches(t, p) {
			return true
		}
	}
	return false
}

// DefaultStatsHistoryLimit is how many table.stats rows the history keeps,
// apart from the other rows: periodic stats (and progress reports) would
// otherwise push the compactions, backups and restores out of the log.
const DefaultStatsHistoryLimit = 1000

// history is the bounded log: two rings, oldest first, one for table.stats
// and one for every other type, merged by sequence when queried.
type history struct {
	rows  *ring[Row]
	stats *ring[Row]
}

func newHistory(limit, statsLimit int) *history {
	return &history{rows: newRing[Row](limit), stats: newRing[Row](statsLimit)}
}

func (h *history) add(r Row) {
	if r.Type == events.TableStats {
		h.stats.push(r)
		return
	}
	h.rows.push(r)
}

// query returns the matching rows, newest first.
func (h *history) query(f Filter) []Row {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultQueryLimit
	}
	out := []Row{}
	i, j := h.rows.len()-1, h.stats.len()-1
	for (i >= 0 || j >= 0) && len(out) < limit {
		var r Row
		if j < 0 || (i >= 0 && h.rows.at(i).Seq > h.stats.at(j).Seq) {
			r = h.rows.at(i)
			i--
		} else {
			r = h.stats.at(j)
			j--
		}
		if r.Seq <= f.After {
			break // newest first: every row left is older still
		}
		if f.Match(r) {
			out = append(out, r)
		}
	}
	return out
}
