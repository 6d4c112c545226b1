package tables

import (
	"context"
)

// Stats reports size on disk (every file of tables/<t>), and the
// dead-record estimate (see dead.go). It answers also while the table is
// unavailable, from the directory and the last estimate.
func (t *Table) Stats(ctx context.Context) (Stats, error) {
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	t.mu.RLock()
	size, err := dirSize(t.dir)
	t.mu.RUnlock()
	if err != nil {
		return Stats{}, opErrorf(t.name, "stats", "%w", err)
	}
	d := t.deadSnapshot()
	return Stats{
		Bytes:       size,
		Records:     d.Live,
		DeadRecords: d.Dead,
		DeadRatio:   d.ratio(),
		DeadBytes:   d.DeadBytes,
	}, nil
}
