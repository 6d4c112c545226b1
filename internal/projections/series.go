package projections

import "time"

// DefaultSeriesLimit is how many table.stats points a table's series keeps.
const DefaultSeriesLimit = 360

// Point is one table.stats sample.
type Point struct {
	Time      time.Time `json:"time"`
	Bytes     int64     `json:"bytes"`
	Records   int64     `json:"records"`
	DeadRatio float64   `json:"dead_ratio"`
}
