package projections

import (
	"github.com/custodian-dev/custodian/internal/events"
)

// ApplyStats folds in a table.stats of CUSTODIAN_STATS (see
// State.ApplyStats) and hands its row (Stream StatsStream) to the
// subscribers.
func (p *Projection) ApplyStats(seq uint64, e events.Event) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.st.ApplyStats(seq, e) {
		return false
	}
	p.pushLocked(Row{Event: e, Seq: seq, Stream: StatsStream})
	return true
}

// SkipStats marks a message of CUSTODIAN_STATS that is not an event as
// seen.
func (p *Projection) SkipStats(seq uint64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.st.SkipStats(seq)
}

// ApplyLatest folds one of the newest events per subject of
// CUSTODIAN_EVENTS into the cards (see State.ApplyLatest).
func (p *Projection) ApplyLatest(seq uint64, e events.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.ApplyLatest(seq, e)
}

// ApplyLatestStats folds the newest table.stats of a table into its card
// (see State.ApplyLatestStats).
func (p *Projection) ApplyLatestStats(seq uint64, e events.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.ApplyLatestStats(seq, e)
}

// StatsLastSeq is the sequence of CUSTODIAN_STATS last applied.
func (p *Projection) StatsLastSeq() uint64 {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.st.StatsLastSeq()
}

// ResetStats forgets what came from CUSTODIAN_STATS (that stream was
// deleted and created anew, or its sequences went back).
func (p *Projection) ResetStats() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.resetStats()
}
