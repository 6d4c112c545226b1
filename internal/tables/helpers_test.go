package tables

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
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
			if strings.HasPrefix(e.Name(), ".") && e.Name() != sharedDir {
				out = append(out, filepath.Join(backupsDir, be.Name(), e.Name()))
			}
		}
	}
	return out
}

func removeFile(p string) error { return os.Remove(p) }

// childCmd runs this test binary again with only the test named run (a
// helper process), its environment extended by env ("NAME=value").
func childCmd(run string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^"+run+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// childExit ends a helper process that met err: the error on stderr, exit
// status 3, which the parent reports as a failure of the child.
func childExit(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(3)
}

// childTable opens (creating it) table "t" of the store at root with opts,
// for a helper process; an error ends the process (childExit).
func childTable(root string, opts Options) *Table {
	s, err := OpenStore(root, opts)
	if err != nil {
		childExit(err)
	}
	tb, err := s.Open(context.Background(), "t", true)
	if err != nil {
		childExit(err)
	}
	return tb
}

// runChildUntilKilled runs cmd to its end and fails the test unless the
// child died by SIGKILL (what says where, for the message); it returns the
// child's stdout.
func runChildUntilKilled(t *testing.T, cmd *exec.Cmd, what string) *bytes.Buffer {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	requireSIGKILL(t, cmd.Run(), stderr.String(), what)
	return &stdout
}

// requireSIGKILL fails the test unless err, from running or waiting for a
// child, says the child died by SIGKILL.
func requireSIGKILL(t *testing.T, err error, stderr, what string) {
	t.Helper()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("child: %v (stderr %s)", err, stderr)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die by SIGKILL%s: %v; stderr: %s", what, err, stderr)
	}
}

// ackLog is what a writer child printed: for each key the last
// acknowledged value ("ack <key> <value>") and the values tried after it
// ("try <key> <value>"; a write can land without its ack being printed
// before the kill). Each key has one writer at a time, so its lines are in
// order.
type ackLog struct {
	acked map[string]string
	later map[string]map[string]bool
}

func newAckLog() *ackLog {
	return &ackLog{acked: map[string]string{}, later: map[string]map[string]bool{}}
}

// add reads one line of the child's output and returns its kind ("ack",
// "try", or "" for a line that is neither).
func (l *ackLog) add(line string) string {
	f := strings.SplitN(line, " ", 3)
	if len(f) != 3 {
		return ""
	}
	switch f[0] {
	case "ack":
		l.acked[f[1]] = f[2]
		l.later[f[1]] = map[string]bool{}
	case "try":
		if l.later[f[1]] == nil {
			l.later[f[1]] = map[string]bool{}
		}
		l.later[f[1]][f[2]] = true
	default:
		return ""
	}
	return f[0]
}

// holds says whether have is a value key may read: its last acknowledged
// one or one tried after it.
func (l *ackLog) holds(key, have string) bool {
	return have == l.acked[key] || l.later[key][have]
}

// checkBackupsWhole fails the test unless every backup listed for table
// is whole (what says when, for the message); it returns the list.
func checkBackupsWhole(t *testing.T, ctx context.Context, s *Store, table, what string) []Manifest {
	t.Helper()
	bs, err := s.Backups(table)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range bs {
		dir, _ := s.BackupDir(table, m.ID)
		if err := checkBackup(ctx, dir, m); err != nil {
			t.Fatalf("backup %s %s: %v", m.ID, what, err)
		}
	}
	return bs
}
