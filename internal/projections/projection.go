package projections

import (
	"sync"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// Projection is a State shared between the consumer that feeds it and the
// readers (HTTP handlers, the metrics collector), plus the live feed of new
// rows for subscribers.
type Projection struct {
	mu   sync.RWMutex
	st   *State
	opts Options
	subs map[*Subscription]struct{}
	// gen is the generation of the state: the held stream's creation time
	// in unix ns, moved on when the state starts over on the same stream;
	// 0 before Attach. created is that creation time.
	gen     int64
	created time.Time
}

// New returns an empty projection.
func New(opts Options) *Projection {
	return &Projection{st: NewState(opts), opts: opts, subs: map[*Subscription]struct{}{}}
}

// Apply folds one event in (see State.Apply) and hands the new row to the
// subscribers.
func (p *Projection) Apply(seq uint64, e events.Event) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.st.Apply(seq, e) {
		return false
	}
	p.pushLocked(Row{Event: e, Seq: seq})
	return true
}

// pushLocked hands a new row to the subscribers; p.mu is held.
func (p *Projection) pushLocked(row Row) {
	for s := range p.subs {
		s.pushLocked(row)
	}
}

// Skip marks a message that is not an event as seen (see State.Skip).
func (p *Projection) Skip(seq uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st.Skip(seq)
}

// Attach records which stream the state comes from: its creation time is
// the generation. With startOver (the stream was deleted and created anew,
// or its sequences went back while its creation time stayed, as after a
// server restored from an older copy) the state is emptied and the
// generation moves on even when the creation time did not. Every
// subscription of another generation ends with Restarted true: its
// sequences mean nothing now.
//
// It reports whether the state was emptied (startOver).
func (p *Projection) Attach(created time.Time, startOver bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case startOver:
		p.st = NewState(p.opts)
		p.gen = max(created.UnixNano(), p.gen+1)
	case created.Equal(p.created) && p.gen != 0:
		return false // the same stream again (a new session after a reconnect)
	default:
		p.gen = created.UnixNano()
	}
	p.created = created
	for s := range p.subs {
		s.restarted = true
		s.closeLocked()
	}
	return startOver
}

// Generation identifies the stream the projection holds (its creation
// time in unix ns), 0 before the consumer first found one. Sequences are
// comparable only within one generation.
func (p *Projection) Generation() int64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.gen
}

// LastSeq is the sequence of the last message applied.
func (p *Projection) LastSeq() uint64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.st.LastSeq()
}

// Read calls f with the state under the read lock; f must not keep
// references into the state nor block.
func (p *Projection) Read(f func(s *State)) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	f(p.st)
}

// TableCards returns copies of the cards of one table.
func (p *Projection) TableCards(table string) []Card {
	var out []Card
	p.Read(func(s *State) { out = s.TableCards(table) })
	return out
}

// History returns the rows the filter selects, newest first.
func (p *Projection) History(f Filter) []Row {
	var out []Row
	p.Read(func(s *State) { out = s.History(f) })
	return out
}
