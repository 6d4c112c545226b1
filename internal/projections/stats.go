package projections

import (
	"github.com/custodian-dev/custodian/internal/events"
)

// StatsStream is Row.Stream of a row of CUSTODIAN_STATS: its Seq is a
// sequence of that stream, not of CUSTODIAN_EVENTS.
const StatsStream = "stats"

// statsBook is the part of a State fed by CUSTODIAN_STATS: its own
// sequences, its rows (the history of table.stats) and the sequence up to
// which the cards hold the newest stats of each table (ApplyLatestStats).
type statsBook struct {
	lastSeq   uint64
	cardsFrom uint64
	applied   uint64
	rows      *ring[Row]
}

// StatsLastSeq is the sequence of CUSTODIAN_STATS last applied.
func (s *State) StatsLastSeq() uint64 { return s.stats.lastSeq }

// ApplyStats folds in the table.stats at sequence seq of CUSTODIAN_STATS:
// counted, kept in the table.stats history (Row.Stream StatsStream), and
// folded into the card and its series unless ApplyLatestStats did so. A
// sequence not newer than the last one changes nothing; it reports whether
// the event was applied.
func (s *State) ApplyStats(seq uint64, e events.Event) bool {
	if seq <= s.stats.lastSeq {
		return false
	}
	s.stats.lastSeq = seq
	s.stats.applied++
	s.counts[CountKey{Type: e.Type, Result: resultOf(e)}]++
	s.stats.rows.push(Row{Event: e, Seq: seq, Stream: StatsStream})
	if e.Table == "" || e.Table == events.NodeTable {
		return true
	}
	c := s.card(e.Node, e.Table, e.Time)
	c.Counters[e.Type]++
	if seq > s.stats.cardsFrom {
		c.foldStats(e)
		s.point(c, e)
	}
	return true
}

// SkipStats marks a message of CUSTODIAN_STATS that is not an event as
// seen.
func (s *State) SkipStats(seq uint64) bool {
	if seq <= s.stats.lastSeq {
		return false
	}
	s.stats.lastSeq = seq
	s.invalid++
	return true
}

// ApplyLatestStats folds into the card one of the newest table.stats of
// CUSTODIAN_STATS, one per table, read when the projection starts.
func (s *State) ApplyLatestStats(seq uint64, e events.Event) {
	s.stats.cardsFrom = max(s.stats.cardsFrom, seq)
	if e.Table == "" || e.Table == events.NodeTable {
		return
	}
	c := s.card(e.Node, e.Table, e.Time)
	c.foldStats(e)
	s.point(c, e)
}

// resetStats forgets what came from CUSTODIAN_STATS (the stream was
// created anew); the cards keep their figures until new ones come.
func (s *State) resetStats() {
	s.stats = statsBook{rows: newRing[Row](s.opts.StatsLimit)}
}

// StatsHistory returns the table.stats rows the filter selects, newest
// first, from CUSTODIAN_STATS (Before and After are sequences of it).
func (s *State) StatsHistory(f Filter) []Row {
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultQueryLimit
	}
	out := []Row{}
	for i := s.stats.rows.len() - 1; i >= 0 && len(out) < limit; i-- {
		r := s.stats.rows.at(i)
		if r.Seq <= f.After {
			break
		}
		if f.Match(r) {
			out = append(out, r)
		}
	}
	return out
}

// foldStats takes a table.stats into the card: its figures, whether
// writes work, the off-site lag, the next scheduled work and the state
// these make. LastSeq stays a sequence of CUSTODIAN_EVENTS.
func (c *Card) foldStats(e events.Event) {
	if e.Time.After(c.LastEvent) {
		c.LastEvent = e.Time
	}
	c.applyNext(e)
	c.applyOffsite(0, e)
	c.applyStats(e)
	c.setState(e.Time)
}

// statsOnly reports whether f asks for table.stats alone (type
// table.stats): those come from CUSTODIAN_STATS.
func (f Filter) statsOnly() bool {
	return f.Type == events.TableStats || f.Type == events.TableStats+"."
}
