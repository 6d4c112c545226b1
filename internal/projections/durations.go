package projections

import (
	"strings"

	"github.com/custodian-dev/custodian/internal/events"
)

// durationBuckets are the upper bounds, in seconds, of the operation
// duration histogram.
func durationBuckets() []float64 {
	return []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600}
}

type durationKey struct {
	Operation string // compaction, backup, verify, restore, drill
	Result    string
}

// durationHist is a cumulative-ready histogram: counts[i] counts the
// observations that fall in bucket i alone.
type durationHist struct {
	counts []uint64
	count  uint64
	sum    float64
}

// observeDuration records the duration of a finished operation.
func (s *State) observeDuration(e events.Event) {
	op, phase, _ := strings.Cut(e.Type, ".")
	if (operationState(op) == "" && op != "drill") || !isEnd(phase) {
		return
	}
	k := durationKey{Operation: op, Result: resultOf(e)}
	h, ok := s.durations[k]
	if !ok {
		h = &durationHist{counts: make([]uint64, len(s.buckets))}
		s.durations[k] = h
	}
	sec := float64(e.DurationMS) / 1000
	h.count++
	h.sum += sec
	for i, b := range s.buckets {
		if sec <= b {
			h.counts[i]++
			break
		}
	}
}
