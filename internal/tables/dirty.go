package tables

import "sync"

// dirtySet is the delta log of a running rewrite: the keys written since
// tracking began. It holds keys, not values: a catch-up round swaps the set
// out first and then takes a snapshot of the live database, so every write
// recorded in the swapped set is in that snapshot, and reading each key from
// it gives the latest value whatever order concurrent writers finished in.
type dirtySet struct {
	mu   sync.Mutex
	keys map[string]struct{}
}

func newDirtySet() *dirtySet { return &dirtySet{keys: map[string]struct{}{}} }

func (d *dirtySet) add(keys ...string) {
	d.mu.Lock()
	for _, k := range keys {
		d.keys[k] = struct{}{}
	}
	d.mu.Unlock()
}

// take returns the keys recorded so far and starts a new set.
func (d *dirtySet) take() map[string]struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	k := d.keys
	d.keys = map[string]struct{}{}
	return k
}

func (d *dirtySet) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.keys)
}
