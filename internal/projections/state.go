package projections

import (
	"maps"
	"sort"
	"strings"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// Options bound the state.
type Options struct {
	HistoryLimit int // rows kept in the history log, table.stats aside (DefaultHistoryLimit)
	StatsLimit   int // table.stats rows kept in the history log (DefaultStatsHistoryLimit)
	SeriesLimit  int // points kept per table (DefaultSeriesLimit)
}

func (o Options) withDefaults() Options {
	if o.HistoryLimit <= 0 {
		o.HistoryLimit = DefaultHistoryLimit
	}
	if o.StatsLimit <= 0 {
		o.StatsLimit = DefaultStatsHistoryLimit
	}
	if o.SeriesLimit <= 0 {
		o.SeriesLimit = DefaultSeriesLimit
	}
	return o
}

// CountKey keys the event counters.
type CountKey struct {
	Type   string
	Result string
}

// cardKey keys cards and series by node and table.
type cardKey struct {
	Node  string
	Table string
}

// State is everything the projections know. It is not safe for concurrent
// use; Projection guards one with a lock.
type State struct {
	opts      Options
	lastSeq   uint64
	applied   uint64 // events folded in
	invalid   uint64 // stream messages that were not events
	cards     map[cardKey]*Card
	series    map[cardKey]*ring[Point]
	history   *history
	counts    map[CountKey]uint64
	durations map[durationKey]*durationHist
	buckets   []float64
	// cardsFrom: the cards hold what every event of CUSTODIAN_EVENTS up
	// to this sequence says (ApplyLatest); Apply folds into the cards
	// only the events after it.
	cardsFrom uint64
	// stats is the part fed by CUSTODIAN_STATS (stats.go).
	stats statsBook
}

// NewState returns an empty state.
func NewState(opts Options) *State {
	opts = opts.withDefaults()
	return &State{
		opts:      opts,
		cards:     map[cardKey]*Card{},
		series:    map[cardKey]*ring[Point]{},
		history:   newHistory(opts.HistoryLimit, opts.StatsLimit),
		counts:    map[CountKey]uint64{},
		durations: map[durationKey]*durationHist{},
		buckets:   durationBuckets(),
		stats:     statsBook{rows: newRing[Row](opts.StatsLimit)},
	}
}

// LastSeq is the stream sequence of the last message applied.
func (s *State) LastSeq() uint64 { return s.lastSeq }

// Applied is the number of events folded in.
func (s *State) Applied() uint64 { return s.applied }

// Invalid is the number of stream messages skipped because they were not
// events.
func (s *State) Invalid() uint64 { return s.invalid }

// Apply folds the event at stream sequence seq into the state. A sequence
// not newer than the last one applied is a redelivery and changes nothing;
// Apply reports whether the event was applied.
func (s *State) Apply(seq uint64, e events.Event) bool {
	if seq <= s.lastSeq {
		return false
	}
	s.lastSeq = seq
	s.applied++
	s.counts[CountKey{Type: e.Type, Result: resultOf(e)}]++
	s.history.add(Row{Event: e, Seq: seq})
	s.observeDuration(e)

	table := e.Table
	if table == "" || table == events.NodeTable || !aboutTable(e.Type) {
		return true
	}
	c := s.card(e.Node, table, e.Time)
	if seq <= s.cardsFrom {
		// The card holds it already (ApplyLatest): counted only.
		c.Counters[e.Type]++
		return true
	}
	c.apply(seq, e)
	s.point(c, e)
	return true
}

// card is the card of table on node, made when missing.
func (s *State) card(node, table string, t time.Time) *Card {
	k := cardKey{Node: node, Table: table}
	c, ok := s.cards[k]
	if !ok {
		c = newCard(node, table, t)
		s.cards[k] = c
	}
	return c
}

// point adds a point to c's series for a table.stats with sizes.
func (s *State) point(c *Card, e events.Event) {
	if _, sized := events.Integer(e.Data, "bytes"); !sized || e.Type != events.TableStats {
		// Progress reports and failed reads are table.stats too, without
		// sizes: they draw no point.
		return
	}
	k := cardKey{Node: c.Node, Table: c.Table}
	r, ok := s.series[k]
	if !ok {
		r = newRing[Point](s.opts.SeriesLimit)
		s.series[k] = r
	}
	r.push(Point{Time: e.Time, Bytes: c.Bytes, Records: c.Records, DeadRatio: c.DeadRatio})
}

// ApplyLatest folds into the cards one of the newest events of
// CUSTODIAN_EVENTS, one per subject (node, table and type), read in
// sequence order when the projection starts: what the table's state and
// last outcomes are, without a replay of the stream. It neither counts the
// event nor adds it to the history; Apply then folds into the cards only
// the events after the newest sequence given here.
func (s *State) ApplyLatest(seq uint64, e events.Event) {
	s.cardsFrom = max(s.cardsFrom, seq)
	if e.Table == "" || e.Table == events.NodeTable || !aboutTable(e.Type) {
		return
	}
	c := s.card(e.Node, e.Table, e.Time)
	c.fold(seq, e)
	s.point(c, e)
}

// Skip marks a stream message that is not an event as seen, so that a
// replay does not stop on it and it is counted once.
func (s *State) Skip(seq uint64) bool {
	if seq <= s.lastSeq {
		return false
	}
	s.lastSeq = seq
	s.invalid++
	return true
}

// Cards returns copies of every card, sorted by table then node.
func (s *State) Cards() []Card {
	out := make([]Card, 0, len(s.cards))
	for _, c := range s.cards {
		out = append(out, c.clone())
	}
	sortCards(out)
	return out
}

// TableCards returns copies of the cards of one table on every node.
func (s *State) TableCards(table string) []Card {
	var out []Card
	for k, c := range s.cards {
		if k.Table == table {
			out = append(out, c.clone())
		}
	}
	sortCards(out)
	return out
}

// Series returns the table.stats points of a table on a node, oldest
// first: at most max of them, evenly spread, the first and the last always
// among them (max 1: the last; max <= 0: all). Only the points returned are copied.
func (s *State) Series(node, table string, max int) []Point {
	r, ok := s.series[cardKey{Node: node, Table: table}]
	if !ok {
		return []Point{}
	}
	n := r.len()
	if max <= 0 || n <= max {
		return r.slice()
	}
	if max == 1 {
		return []Point{r.at(n - 1)}
	}
	out := make([]Point, 0, max)
	step := float64(n-1) / float64(max-1)
	for i := 0; i < max; i++ {
		out = append(out, r.at(int(float64(i)*step+0.5)))
	}
	return out
}

// History returns the rows the filter selects, newest first: rows of
// CUSTODIAN_EVENTS, or with the type table.stats the rows of
// CUSTODIAN_STATS (see StatsHistory).
func (s *State) History(f Filter) []Row {
	if f.statsOnly() {
		return s.StatsHistory(f)
	}
	return s.history.query(f)
}

// Counts returns a copy of the event counters by type and result.
func (s *State) Counts() map[CountKey]uint64 {
	return maps.Clone(s.counts)
}

func sortCards(cs []Card) {
	sort.Slice(cs, func(i, j int) bool {
		if c := strings.Compare(cs[i].Table, cs[j].Table); c != 0 {
			return c < 0
		}
		return cs[i].Node < cs[j].Node
	})
}

// aboutTable reports whether events of type typ describe the table they name.
// notification.* events name the table of the event they notified about,
// but their node is the notifier's name: they belong in the history and the
// counters, not on a table's card.
func aboutTable(typ string) bool {
	return !strings.HasPrefix(typ, "notification.")
}
