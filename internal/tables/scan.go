package tables

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/iterator"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// Scan page sizes: a limit <= 0 means DefaultScanLimit; a larger limit than
// MaxScanLimit is cut to it.
const (
	DefaultScanLimit = 100
	MaxScanLimit     = 1000
)

// Scan lists up to limit items whose key has prefix and sorts after after
// (strictly). Next is the last key returned when more items follow, ""
// otherwise; pass it as after to get the next page.
func (t *Table) Scan(ctx context.Context, prefix, after string, limit int) (ScanResult, error) {
	if err := ctx.Err(); err != nil {
		return ScanResult{}, err
	}
	if limit <= 0 {
		limit = DefaultScanLimit
	}
	if limit > MaxScanLimit {
		limit = MaxScanLimit
	}
	db, err := t.readHandle(ctx)
	var res ScanResult
	if err == nil {
		res, err = scanPage(db, []byte(prefix), []byte(after), limit)
		t.mu.RUnlock()
	}
	if err != nil {
		return ScanResult{}, t.fail("scan", err)
	}
	return res, nil
}

func scanPage(db *leveldb.DB, prefix, after []byte, limit int) (ScanResult, error) {
	rng := util.BytesPrefix(prefix)
	if len(prefix) == 0 {
		rng = &util.Range{}
	}
	if len(after) > 0 {
		start := append(append([]byte{}, after...), 0) // first key strictly after
		if rng.Start == nil || bytes.Compare(start, rng.Start) > 0 {
			rng.Start = start
		}
	}
	it := db.NewIterator(rng, nil)
	defer it.Release()
	res := ScanResult{Items: []Item{}}
	for it.Next() {
		if len(res.Items) == limit {
			res.Next = res.Items[len(res.Items)-1].Key
			break
		}
		res.Items = append(res.Items, Item{
			Key:   string(it.Key()),
			Value: json.RawMessage(append([]byte{}, it.Value()...)),
		})
	}
	return res, it.Error()
}

// scanAll iterates it to the end with a Digester, checking ctx every 1024
// records and reporting progress. visit, when non-nil, sees every record.
func scanAll(ctx context.Context, it iterator.Iterator, total int64, progress Progress, visit func(k, v []byte) error) (VerifyResult, error) {
	d := NewDigester()
	for it.Next() {
		k, v := it.Key(), it.Value()
		d.Add(k, v)
		if visit != nil {
			if err := visit(k, v); err != nil {
				return VerifyResult{}, err
			}
		}
		if d.records%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return VerifyResult{}, err
			}
			if progress != nil && d.records%(64*1024) == 0 {
				progress(d.records, total, "records")
			}
		}
	}
	if err := it.Error(); err != nil {
		return VerifyResult{}, err
	}
	if progress != nil {
		progress(d.records, total, "records")
	}
	return d.Result(), nil
}

// scanDB is a strict full scan of db (a snapshot when snap is non-nil).
func scanDB(ctx context.Context, db *leveldb.DB, snap *leveldb.Snapshot, progress Progress) (VerifyResult, error) {
	var it iterator.Iterator
	if snap != nil {
		it = snap.NewIterator(nil, strictRead())
	} else {
		it = db.NewIterator(nil, strictRead())
	}
	defer it.Release()
	return scanAll(ctx, it, 0, progress, nil)
}
