package changelog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// written is a closed goleveldb database in dir whose one journal holds
// the ops of want, in order.
type written struct {
	dir     string
	journal string
	want    []Op
	when    time.Time // the time the timed batch carried
}

func writeJournal(t testing.TB) written {
	t.Helper()
	dir := t.TempDir()
	db, err := leveldb.OpenFile(dir, &opt.Options{Strict: opt.StrictAll})
	if err != nil {
		t.Fatal(err)
	}
	sync := &opt.WriteOptions{Sync: true}
	var want []Op
	seq := uint64(1)
	put := func(k, v string) {
		if err := db.Put([]byte(k), []byte(v), sync); err != nil {
			t.Fatal(err)
		}
		want = append(want, Op{Seq: seq, Kind: "put", Key: []byte(k), Value: []byte(v)})
		seq++
	}
	for i := 0; i < 30; i++ {
		put(fmt.Sprintf("k%02d", i), fmt.Sprintf(`{"n":%d}`, i))
	}
	if err := db.Delete([]byte("k03"), sync); err != nil {
		t.Fatal(err)
	}
	want = append(want, Op{Seq: seq, Kind: "delete", Key: []byte("k03")})
	seq++
	// A batch that carries its time, as the writer will.
	when := time.Date(2026, 12, 4, 18, 30, 0, 123, time.UTC)
	var b leveldb.Batch
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(when.UnixNano()))
	b.Put([]byte(TimeKey), ts[:])
	b.Delete([]byte(TimeKey))
	b.Put([]byte("k40"), []byte(`"batched"`))
	b.Delete([]byte("k04"))
	if err := db.Write(&b, sync); err != nil {
		t.Fatal(err)
	}
	want = append(want,
		Op{Seq: seq + 2, Time: when, Kind: "put", Key: []byte("k40"), Value: []byte(`"batched"`)},
		Op{Seq: seq + 3, Time: when, Kind: "delete", Key: []byte("k04")})
	seq += 4
	put("k41", `"after"`)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	js, err := Journals(dir)
	if err != nil || len(js) != 1 {
		t.Fatalf("journals %v %v", js, err)
	}
	return written{dir: dir, journal: js[0], want: want, when: when}
}

func readAll(path string) ([]Op, error) {
	var ops []Op
	_, err := ReadFile(path, 0, func(op Op) error {
		ops = append(ops, op)
		return nil
	})
	return ops, err
}

func sameOp(a, b Op) bool {
	return a.Seq == b.Seq && a.Kind == b.Kind && string(a.Key) == string(b.Key) && string(a.Value) == string(b.Value) && a.Time.Equal(b.Time)
}

// TestReadFileReadsEveryWrite: every put and delete, a batch's ops with the
// time it carried (and not its TimeKey op), each at its sequence number.
func TestReadFileReadsEveryWrite(t *testing.T) {
	w := writeJournal(t)
	ops, err := readAll(w.journal)
	if err != nil {
		t.Fatal(err)
	}
	if len(ops) != len(w.want) {
		t.Fatalf("%d ops, want %d", len(ops), len(w.want))
	}
	for i := range ops {
		if !sameOp(ops[i], w.want[i]) {
			t.Fatalf("op %d: %+v, want %+v", i, ops[i], w.want[i])
		}
	}
	// From a position on.
	var from []Op
	if _, err := ReadFile(w.journal, 31, func(op Op) error { from = append(from, op); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(from) == 0 || from[0].Seq != 31 || len(from) != len(w.want)-30 {
		t.Fatalf("from 31: %d ops starting at %d", len(from), from[0].Seq)
	}
}

// TestEveryByteChanged flips each byte of a real journal in turn: the read
// either gives every op exactly (a byte goleveldb never reads: block
// padding) or stops with a *Damage at or before the changed byte, having
// given only ops that precede it unchanged. Never a changed op.
func TestEveryByteChanged(t *testing.T) {
	w := writeJournal(t)
	orig, err := os.ReadFile(w.journal)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), filepath.Base(w.journal))
	for i := range orig {
		b := append([]byte(nil), orig...)
		b[i] ^= 0x80
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		var ops []Op
		tail, err := ReadFile(p, 0, func(op Op) error { ops = append(ops, op); return nil })
		for j, op := range ops {
			if j >= len(w.want) || !sameOp(op, w.want[j]) {
				t.Fatalf("byte %d changed: op %d read as %+v", i, j, op)
			}
		}
		var d *Damage
		switch {
		case err == nil && tail.Whole():
			if len(ops) != len(w.want) {
				t.Fatalf("byte %d changed: read whole but %d of %d ops", i, len(ops), len(w.want))
			}
		case errors.As(err, &d):
			if d.Offset > int64(i) {
				t.Fatalf("byte %d changed: damage reported at %d, after it", i, d.Offset)
			}
		default:
			t.Fatalf("byte %d changed: %v, tail %+v (neither whole nor damage)", i, err, tail)
		}
	}
}
