package scale

import (
	"slices"
	"time"
)

// percentileMS is the p-th percentile (0 < p <= 100, nearest rank) of ds in
// milliseconds; 0 for no samples.
func percentileMS(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(float64(len(s))*p/100+0.999999) - 1
	rank = max(0, min(rank, len(s)-1))
	return float64(s[rank]) / float64(time.Millisecond)
}
