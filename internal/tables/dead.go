package tables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// The dead-record estimate. goleveldb keeps no count of dead records, so the
// table counts what it sees: a put over an existing key or a delete of an
// existing key makes one dead record and adds the old key and value to the
// dead bytes; a delete of an absent key still writes a tombstone (one dead
// record, the key's bytes). Live records and live bytes follow puts of new
// keys and deletes. Concurrent writes of the same key can make it drift;
// it is an estimate.
//
// It is kept in a sidecar file, custodian-dead.json, inside the table's
// directory (goleveldb ignores files it does not name), so that it moves
// with the directory through swaps, quarantine and restore. It is written
// atomically (temp file + rename): durably (fsync of file and directory) on
// Close and at every rewrite, restore and salvage; every deadSaveEvery
// changes without fsync. After a crash the estimate is the last saved one
// (at most deadSaveEvery changes behind); a missing or unreadable sidecar is
// rebuilt by counting the live records (dead = 0).
//
// A rewrite resets it (dead = 0, live = the records copied). A native
// compaction cannot reclaim what sits in the deepest level, so it keeps
// that share of the dead estimate (the deepest level's share of the bytes
// before compacting).
const (
	deadFile      = "custodian-dead.json"
	deadSaveEvery = 1024
)

type deadState struct {
	Live      int64     `json:"live_records"`
	LiveBytes int64     `json:"live_bytes"`
	Dead      int64     `json:"dead_records"`
	DeadBytes int64     `json:"dead_bytes"`
	Since     time.Time `json:"since"` // last rewrite, restore or creation
}

func (d deadState) ratio() float64 {
	if d.Live+d.Dead <= 0 {
		return 0
	}
	return float64(d.Dead) / float64(d.Live+d.Dead)
}

func writeDead(dir string, d deadState, durable bool) error {
	b, err := json.Marshal(d)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, deadFile), b, durable)
}

func readDead(dir string) (deadState, bool, error) {
	var d deadState
	b, err := os.ReadFile(filepath.Join(dir, deadFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return d, false, nil
		}
		return d, false, err
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return deadState{}, false, nil // unreadable: rebuild
	}
	return d, true, nil
}

// loadDead reads the sidecar of the open database or rebuilds it by
// counting. t.db must be set; the caller holds whatever lock protects it.
func (t *Table) loadDead(ctx context.Context) error {
	d, ok, err := readDead(t.dir)
	if err != nil {
		return err
	}
	if !ok {
		r, err := scanDB(ctx, t.db, nil, nil)
		if err != nil {
			return err
		}
		d = deadState{Live: r.Records, LiveBytes: r.Bytes, Since: time.Now().UTC()}
		if err := writeDead(t.dir, d, true); err != nil {
			return err
		}
	}
	t.deadMu.Lock()
	t.dead = d
	t.unsaved = 0
	t.deadMu.Unlock()
	return nil
}

// setDead replaces the estimate (after a rewrite, restore or salvage).
func (t *Table) setDead(d deadState) {
	t.deadMu.Lock()
	t.dead = d
	t.unsaved = 0
	t.deadMu.Unlock()
}

func (t *Table) deadSnapshot() deadState {
	t.deadMu.Lock()
	defer t.deadMu.Unlock()
	return t.dead
}

// change records one write's effect: existed and oldLen describe the key
// before the write; newLen < 0 is a delete. It saves the sidecar every
// deadSaveEvery changes; the caller holds t.mu (read), so the directory is
// stable.
func (t *Table) change(keyLen int, existed bool, oldLen, newLen int) {
	t.deadMu.Lock()
	d := &t.dead
	switch {
	case newLen >= 0 && !existed:
		d.Live++
		d.LiveBytes += int64(keyLen + newLen)
	case newLen >= 0:
		d.Dead++
		d.DeadBytes += int64(keyLen + oldLen)
		d.LiveBytes += int64(newLen - oldLen)
	case existed:
		d.Live--
		d.LiveBytes -= int64(keyLen + oldLen)
		d.Dead++
		d.DeadBytes += int64(keyLen + oldLen)
	default:
		d.Dead++
		d.DeadBytes += int64(keyLen)
	}
	if d.Live < 0 {
		d.Live = 0
	}
	if d.LiveBytes < 0 {
		d.LiveBytes = 0
	}
	t.unsaved++
	save := t.unsaved >= deadSaveEvery
	snap := *d
	if save {
		t.unsaved = 0
	}
	t.deadMu.Unlock()
	if save {
		// Not durable: an estimate; a failure leaves the older sidecar.
		_ = writeDead(t.dir, snap, false)
	}
}

// saveDead writes the sidecar now. The caller holds t.mu.
func (t *Table) saveDead(durable bool) error {
	d := t.deadSnapshot()
	if err := writeDead(t.dir, d, durable); err != nil {
		return fmt.Errorf("save dead estimate: %w", err)
	}
	t.deadMu.Lock()
	t.unsaved = 0
	t.deadMu.Unlock()
	return nil
}
