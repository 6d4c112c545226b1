package tables

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// detections records OnCorruption calls.
type detections struct {
	mu    sync.Mutex
	calls []detection
}

type detection struct {
	table, op string
	err       error
}

func (d *detections) record(table, op string, err error) {
	d.mu.Lock()
	d.calls = append(d.calls, detection{table, op, err})
	d.mu.Unlock()
}

func (d *detections) list() []detection {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]detection(nil), d.calls...)
}

func openTestStore(t *testing.T, root string, det *detections) *Store {
	t.Helper()
	opts := Options{}
	if det != nil {
		opts.OnCorruption = det.record
	}
	s, err := OpenStore(root, opts)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustOpen(t *testing.T, s *Store, name string) *Table {
	t.Helper()
	tb, err := s.Open(context.Background(), name, true)
	if err != nil {
		t.Fatalf("Open %s: %v", name, err)
	}
	return tb
}

// val is a JSON value that snappy cannot shrink much (hex of a hash), so
// that tables span several .ldb files.
func val(i int) json.RawMessage {
	h := sha256.Sum256([]byte(fmt.Sprint(i)))
	return json.RawMessage(fmt.Sprintf(`{"i":%d,"pad":"%x"}`, i, h[:]))
}

// fill puts keys prefix%06d for i in [from, to) with val(i).
func fill(t *testing.T, tb *Table, prefix string, from, to int) {
	t.Helper()
	ctx := context.Background()
	for i := from; i < to; i++ {
		if err := tb.Put(ctx, fmt.Sprintf("%s%06d", prefix, i), val(i)); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
}

// fillBatch is fill with batches of 100 (faster).
func fillBatch(t *testing.T, tb *Table, prefix string, from, to int) {
	t.Helper()
	ctx := context.Background()
	var ops []Op
	for i := from; i < to; i++ {
		ops = append(ops, Op{Op: "put", Key: fmt.Sprintf("%s%06d", prefix, i), Value: val(i)})
		if len(ops) == 100 || i == to-1 {
			if err := tb.Batch(ctx, ops); err != nil {
				t.Fatalf("batch: %v", err)
			}
			ops = nil
		}
	}
}

// listTree lists every path under root (relative), sorted.
func listTree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		out = append(out, rel)
		return nil
	})
	sort.Strings(out)
	return out
}

// newestFile is the newest (highest numbered) file in dir with suffix.
func newestFile(t *testing.T, dir, suffix string) string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), suffix) || (suffix == "MANIFEST" && strings.HasPrefix(e.Name(), "MANIFEST-")) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		t.Fatalf("no %s file in %s (have %v)", suffix, dir, ents)
	}
	sort.Strings(names)
	return filepath.Join(dir, names[len(names)-1])
}

// flipByte flips one byte (^= 0x80) at offset off of path (off < 0: the middle).
func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		off = int64(len(b) / 2)
	}
	b[off] ^= 0x80
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// leftovers lists work directories (names starting with '.') under tables/
// and backups/<t>/.
func leftovers(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	ents, _ := os.ReadDir(filepath.Join(root, tablesDir))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(tablesDir, e.Name()))
		}
	}
	bents, _ := os.ReadDir(filepath.Join(root, backupsDir))
	for _, be := range bents {
		ents, _ := os.ReadDir(filepath.Join(root, backupsDir, be.Name()))
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".") {
				out = append(out, filepath.Join(backupsDir, be.Name(), e.Name()))
			}
		}
	}
	return out
}

func removeFile(p string) error { return os.Remove(p) }
