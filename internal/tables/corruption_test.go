package tables

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	lerrors "github.com/syndtr/goleveldb/leveldb/errors"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// damage is one case of the corruption matrix: it damages the closed table
// in dir.
type damage struct {
	name string
	// journal: the records stay in the journal (no compaction) instead of
	// being compacted into .ldb files.
	journal bool
	do      func(t *testing.T, dir string)
	ops     []string // operations that may detect it
}

func corruptionMatrix() []damage {
	return []damage{
		{name: "flipped-ldb", do: func(t *testing.T, dir string) {
			flipByte(t, newestFile(t, dir, ".ldb"), -1)
		}, ops: []string{"verify"}},
		{name: "truncated-ldb", do: func(t *testing.T, dir string) {
			p := newestFile(t, dir, ".ldb")
			fi, _ := os.Stat(p)
			if err := os.Truncate(p, fi.Size()/2); err != nil {
				t.Fatal(err)
			}
		}, ops: []string{"open", "verify"}},
		{name: "missing-ldb", do: func(t *testing.T, dir string) {
			if err := os.Remove(newestFile(t, dir, ".ldb")); err != nil {
				t.Fatal(err)
			}
		}, ops: []string{"open"}},
		{name: "damaged-manifest", do: func(t *testing.T, dir string) {
			flipByte(t, newestFile(t, dir, "MANIFEST"), -1)
		}, ops: []string{"open"}},
		{name: "missing-current", do: func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "CURRENT")); err != nil {
				t.Fatal(err)
			}
		}, ops: []string{"open"}},
		{name: "damaged-journal", journal: true, do: func(t *testing.T, dir string) {
			flipByte(t, newestFile(t, dir, ".log"), -1)
		}, ops: []string{"open"}},
	}
}

// prepareDamaged writes records, takes a backup, writes more, closes and
// damages the table. It returns the backup's manifest.
func prepareDamaged(t *testing.T, root string, c damage) Manifest {
	m, _ := prepareDamagedFull(t, root, c)
	return m
}

// prepareDamagedFull is prepareDamaged that also returns what the table
// held when it was closed (records and digest, before the damage).
func prepareDamagedFull(t *testing.T, root string, c damage) (Manifest, VerifyResult) {
	t.Helper()
	ctx := context.Background()
	s, err := OpenStore(root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tb := mustOpen(t, s, "t")
	fillBatch(t, tb, "k", 0, 20000)
	m, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatalf("backup: %v", err)
	}
	if c.journal {
		fill(t, tb, "j", 0, 200)
	} else {
		fillBatch(t, tb, "k", 20000, 30000)
		if _, err := tb.Compact(ctx, ModeNative, nil); err != nil {
			t.Fatalf("compact: %v", err)
		}
	}
	full, err := tb.Verify(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	c.do(t, filepath.Join(root, tablesDir, "t"))
	return m, full
}

func TestCorruptionMatrix(t *testing.T) {
	for _, c := range corruptionMatrix() {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			root := t.TempDir()
			m, full := prepareDamagedFull(t, root, c)
			det := &detections{}
			s := openTestStore(t, root, det)
			tb, err := s.Open(ctx, "t", false)
			op := "open"
			if err == nil {
				if ok, _ := tb.Available(); !ok {
					t.Fatal("opened fine but unavailable")
				}
				op = "verify"
				_, err = tb.Verify(ctx, nil)
			}
			if err == nil {
				t.Fatal("damage not detected by open or verify")
			}
			if tb == nil {
				t.Fatalf("no *Table to restore after %v", err)
			}
			if !IsCorruption(err) {
				t.Fatalf("%s error is not classified as corruption: %v", op, err)
			}
			calls := det.list()
			if len(calls) != 1 || calls[0].table != "t" || calls[0].op != op || !IsCorruption(calls[0].err) {
				t.Fatalf("OnCorruption calls %+v, want one for t/%s", calls, op)
			}
			okOp := false
			for _, o := range c.ops {
				okOp = okOp || o == op
			}
			if !okOp {
				t.Fatalf("detected by %s, want one of %v", op, c.ops)
			}
			if op == "open" {
				if ok, reason := tb.Available(); ok || reason != ReasonCorrupted {
					t.Fatalf("after a corrupt open: available %v %q", ok, reason)
				}
				if _, err := tb.Get(ctx, "k000001"); apierr.CodeOf(err) != apierr.TableUnavailable {
					t.Fatalf("get on a corrupt table: %v", err)
				}
			}
			// Restore from the latest backup.
			bs, err := s.Backups("t")
			if err != nil || len(bs) != 1 || bs[0].ID != m.ID {
				t.Fatalf("backups %+v %v", bs, err)
			}
			q, err := tb.Quarantine(ctx)
			if err != nil || q == "" {
				t.Fatalf("quarantine %q %v", q, err)
			}
			if _, err := tb.Get(ctx, "k000001"); apierr.CodeOf(err) != apierr.TableUnavailable {
				t.Fatalf("get while quarantined: %v", err)
			}
			rr, err := tb.RestoreFrom(ctx, m.ID, nil)
			if err != nil {
				t.Fatalf("restore: %v", err)
			}
			if rr.BackupID != m.ID || rr.BackupAge <= 0 {
				t.Fatalf("restore result %+v manifest %+v", rr, m)
			}
			// Backup + journal: every write is back, unless the journal is
			// what was damaged: then the restore says what it lost.
			want := full
			if c.journal {
				if !rr.Lost || !strings.Contains(rr.LostReason, ".log") || !strings.Contains(rr.LostReason, "offset") {
					t.Fatalf("damaged journal: restore result %+v, want lost naming the file and offset", rr)
				}
				// The flip is in the middle of the journal: the replay stops
				// there; the writes before it (if any) are back.
				if rr.JournalRecords >= full.Records-m.Records {
					t.Fatalf("damaged journal: %d journal records replayed, want fewer than %d", rr.JournalRecords, full.Records-m.Records)
				}
				want.Records = m.Records + rr.JournalRecords
			} else if rr.Lost || rr.JournalRecords != full.Records-m.Records {
				t.Fatalf("restore result %+v: want %d journal records and nothing lost", rr, full.Records-m.Records)
			}
			vr, err := tb.Verify(ctx, nil)
			if err != nil || rr.Records != want.Records || vr.Records != want.Records || (!c.journal && vr.Digest != full.Digest) {
				t.Fatalf("verify after restore %+v %v (result %+v), want %+v", vr, err, rr, want)
			}
			if v, err := tb.Get(ctx, "k002999"); err != nil || string(v) != string(val(2999)) {
				t.Fatalf("get after restore: %s %v", v, err)
			}
			if err := tb.Put(ctx, "new", val(1)); err != nil {
				t.Fatalf("put after restore: %v", err)
			}
			if st, _ := tb.Stats(ctx); st.Records != want.Records+1 {
				t.Fatalf("records after restore %d want %d", st.Records, want.Records+1)
			}
			// The damaged directory is kept in quarantine.
			qs, err := s.Quarantined("t")
			if err != nil || len(qs) != 1 || qs[0] != q {
				t.Fatalf("quarantined %v %v (want %s)", qs, err, q)
			}
			if lo := leftovers(t, root); len(lo) != 0 {
				t.Fatalf("leftovers %v", lo)
			}
		})
	}
}

func TestCorruptionOnEveryOp(t *testing.T) {
	// A flipped byte in the only .ldb: get and scan hit it too.
	ctx := context.Background()
	root := t.TempDir()
	c := corruptionMatrix()[0]
	prepareDamaged(t, root, c)
	det := &detections{}
	var s *Store
	// OnCorruption is called with no lock held: taking the table's write
	// lock from it (SetUnavailable) and the store's (Open) must not
	// deadlock.
	s = openTestStore(t, root, nil)
	s.opts.OnCorruption = func(table, op string, err error) {
		det.record(table, op, err)
		tb, _ := s.Open(ctx, table, false)
		ok, reason := tb.Available()
		tb.SetUnavailable("probe")
		if ok {
			tb.SetAvailable()
		} else {
			tb.SetUnavailable(reason)
		}
	}
	tb, err := s.Open(ctx, "t", false)
	if err != nil {
		t.Fatal(err)
	}
	var scanErr error
	after := ""
	for scanErr == nil {
		var r ScanResult
		r, scanErr = tb.Scan(ctx, "", after, 1000)
		if r.Next == "" {
			break
		}
		after = r.Next
	}
	if !IsCorruption(scanErr) {
		t.Fatalf("scan over the damaged block: %v", scanErr)
	}
	var getErr error
	for i := 0; i < 30000 && getErr == nil; i++ {
		_, getErr = tb.Get(ctx, fmt.Sprintf("k%06d", i))
	}
	if !IsCorruption(getErr) {
		t.Fatalf("get over the damaged block: %v", getErr)
	}
	var le *lerrors.ErrCorrupted
	if !errors.As(getErr, &le) && !IsCorruption(errors.Unwrap(getErr)) {
		t.Fatalf("get error does not wrap goleveldb's: %v", getErr)
	}
	ops := map[string]int{}
	for _, d := range det.list() {
		ops[d.op]++
	}
	if ops["scan"] != 1 || ops["get"] != 1 {
		t.Fatalf("detections %v", ops)
	}
	if _, err := tb.Backup(ctx, nil); !IsCorruption(err) {
		t.Fatalf("backup of a damaged table: %v", err)
	}
	if det.list()[len(det.list())-1].op != "backup" {
		t.Fatalf("backup detection not reported: %+v", det.list())
	}
	if lo := leftovers(t, root); len(lo) != 0 {
		t.Fatalf("leftovers after a failed backup %v", lo)
	}
	bs, _ := s.Backups("t")
	if len(bs) != 1 {
		t.Fatalf("a failed backup left a backup: %+v", bs)
	}
	if _, err := tb.Compact(ctx, ModeRewrite, nil); !IsCorruption(err) {
		t.Fatalf("rewrite of a damaged table: %v", err)
	}
	if det.list()[len(det.list())-1].op != "compact" {
		t.Fatalf("compact detection not reported: %+v", det.list())
	}
	if lo := leftovers(t, root); len(lo) != 0 {
		t.Fatalf("leftovers after a failed rewrite %v", lo)
	}
}

func TestDamagedLatestBackup(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	det := &detections{}
	s := openTestStore(t, root, det)
	tb := mustOpen(t, s, "t")
	fillBatch(t, tb, "k", 0, 2000)
	older, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	fillBatch(t, tb, "k", 2000, 3000)
	newer, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	bs, _ := s.Backups("t")
	if len(bs) != 2 || bs[0].ID != newer.ID || bs[1].ID != older.ID || newer.ID <= older.ID {
		t.Fatalf("backups not newest first: %+v", bs)
	}
	dir, _ := s.BackupDir("t", newer.ID)
	flipByte(t, newestFile(t, dir, ".ldb"), -1)
	if _, err := tb.Quarantine(ctx); err != nil {
		t.Fatal(err)
	}
	_, err = tb.RestoreFrom(ctx, newer.ID, nil)
	if !errors.Is(err, ErrBackupInvalid) || IsCorruption(err) {
		t.Fatalf("restore from a damaged backup: %v (want ErrBackupInvalid, not a table corruption)", err)
	}
	if len(det.list()) != 0 {
		t.Fatalf("a damaged backup was reported as the table's corruption: %+v", det.list())
	}
	if ok, _ := tb.Available(); ok {
		t.Fatal("available after a failed restore")
	}
	if ok, _ := exists(filepath.Join(root, tablesDir, "t")); ok {
		t.Fatal("a failed restore left tables/t")
	}
	if lo := leftovers(t, root); len(lo) != 0 {
		t.Fatalf("leftovers %v", lo)
	}
	// The older backup plus the journal after it: every write is back.
	rr, err := tb.RestoreFrom(ctx, older.ID, nil)
	if err != nil || rr.Records != 3000 || rr.JournalRecords != 1000 || rr.Lost {
		t.Fatalf("restore from the older backup: %+v %v", rr, err)
	}
	if _, err := tb.RestoreFrom(ctx, "20990101T000000.000000000Z-abcdef", nil); apierr.CodeOf(err) != apierr.NotFound {
		t.Fatalf("restore from a missing backup: %v", err)
	}
	if _, err := tb.RestoreFrom(ctx, "../x", nil); apierr.CodeOf(err) != apierr.InvalidRequest {
		t.Fatalf("restore from a bad id: %v", err)
	}
	// A manifest that lies is refused too.
	older2, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	odir, _ := s.BackupDir("t", older2.ID)
	lie := older2
	lie.Records++
	if err := writeManifest(odir, lie); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.RestoreFrom(ctx, older2.ID, nil); !errors.Is(err, ErrBackupInvalid) {
		t.Fatalf("restore with a wrong manifest: %v", err)
	}
	if ok, _ := tb.Available(); !ok {
		t.Fatal("a failed manual restore of a healthy table stopped it serving")
	}
}

func TestSalvage(t *testing.T) {
	for _, c := range corruptionMatrix() {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			root := t.TempDir()
			prepareDamaged(t, root, c)
			s := openTestStore(t, root, nil)
			tb, _ := s.Open(ctx, "t", false)
			if tb == nil {
				t.Fatal("no table")
			}
			if _, err := tb.Salvage(ctx, nil); apierr.CodeOf(err) != apierr.NotFound {
				t.Fatalf("salvage without quarantine: %v", err)
			}
			q, err := tb.Quarantine(ctx)
			if err != nil {
				t.Fatal(err)
			}
			before := listTree(t, q)
			sr, err := tb.Salvage(ctx, nil)
			if err != nil {
				t.Fatalf("salvage: %v", err)
			}
			total := 30000
			if c.journal {
				total = 20200
			}
			if sr.Source != q || sr.Records <= 0 || sr.Records > int64(total) {
				t.Fatalf("salvage result %+v (source want %s, records in (0,%d])", sr, q, total)
			}
			t.Logf("%s: salvaged %d of %d records", c.name, sr.Records, total)
			vr, err := tb.Verify(ctx, nil)
			if err != nil || vr.Records != sr.Records {
				t.Fatalf("verify after salvage %+v %v", vr, err)
			}
			if ok, _ := tb.Available(); !ok {
				t.Fatal("not serving after salvage")
			}
			// Every salvaged record is intact.
			after, n := "", int64(0)
			for {
				r, err := tb.Scan(ctx, "", after, 1000)
				if err != nil {
					t.Fatal(err)
				}
				for _, it := range r.Items {
					var i int
					fmt.Sscanf(it.Key[1:], "%d", &i)
					if string(it.Value) != string(val(i)) {
						t.Fatalf("salvaged %s = %s, want %s", it.Key, it.Value, val(i))
					}
					n++
				}
				if r.Next == "" {
					break
				}
				after = r.Next
			}
			if n != sr.Records {
				t.Fatalf("scanned %d records, salvage said %d", n, sr.Records)
			}
			if after := listTree(t, q); fmt.Sprint(before) != fmt.Sprint(after) {
				t.Fatalf("salvage changed the quarantined copy")
			}
			if lo := leftovers(t, root); len(lo) != 0 {
				t.Fatalf("leftovers %v", lo)
			}
		})
	}
}
