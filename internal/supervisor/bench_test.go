package supervisor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/syndtr/goleveldb/leveldb"
	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	"github.com/syndtr/goleveldb/leveldb/opt"
	"github.com/syndtr/goleveldb/leveldb/storage"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// benchMiB is the size of the table the restore benchmarks use
// (CUSTODIAN_BENCH_MIB overrides it).
func benchMiB() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("CUSTODIAN_BENCH_MIB"), &n); err == nil && n > 0 {
		return n
	}
	return 32
}

// benchTable fills users with about mib MiB of incompressible values in
// batches and takes one backup; it returns the harness and the backup dir.
func benchTable(b *testing.B, mib int) (*harness, string) {
	b.Helper()
	h := start(b, harnessOpt{})
	if err := h.sup.OpenTable(context.Background(), "users", true); err != nil {
		b.Fatal(err)
	}
	tb, _ := h.sup.Table("users")
	const batch = 512
	raw := make([]byte, 512)
	for i := 0; i < mib*1024*1024/1024; i += batch {
		ops := make([]tables.Op, 0, batch)
		for k := 0; k < batch; k++ {
			rand.Read(raw)
			v, _ := json.Marshal(hex.EncodeToString(raw))
			ops = append(ops, tables.Op{Op: "put", Key: fmt.Sprintf("k%08d", i+k), Value: v})
		}
		if err := tb.Batch(context.Background(), ops); err != nil {
			b.Fatal(err)
		}
	}
	tk, err := h.sup.Submit(context.Background(), Command{Table: "users", Verb: events.VerbBackup})
	if err != nil {
		b.Fatal(err)
	}
	<-tk.Done()
	if tk.Outcome().Type != events.BackupCompleted {
		b.Fatalf("backup: %v", tk.Err())
	}
	id := tk.Outcome().Data["backup_id"].(string)
	return h, filepath.Join(h.root, "backups", "users", id)
}

// BenchmarkDetectionToServing is the time from a corruption report to the
// table serving the restored backup again, through the supervisor (event,
// queue, tables.RestoreFrom with its verify and open/close test, events).
func BenchmarkDetectionToServing(b *testing.B) {
	h, _ := benchTable(b, benchMiB())
	tb, _ := h.sup.Table("users")
	report := h.sup.CorruptionHandler()
	corrupt := lerrors.NewErrCorrupted(storage.FileDesc{Type: storage.TypeTable, Num: 1}, errors.New("bench"))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		report("users", "get", corrupt)
		h.rec.waitFor(b, "restore", func([]events.Event) bool {
			return len(h.rec.of("users", events.RestoreCompleted)) >= i+1
		})
		if ok, _ := tb.Available(); !ok {
			b.Fatal("not serving after restore")
		}
	}
}

// BenchmarkBaselineCopyAndScan is the baseline: cp -r of the backup plus
// one strict scan of the copy with raw goleveldb.
func BenchmarkBaselineCopyAndScan(b *testing.B) {
	_, backup := benchTable(b, benchMiB())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dst := filepath.Join(b.TempDir(), "copy")
		if out, err := exec.Command("cp", "-r", backup, dst).CombinedOutput(); err != nil {
			b.Fatalf("cp: %v %s", err, out)
		}
		db, err := leveldb.OpenFile(dst, &opt.Options{Strict: opt.StrictAll})
		if err != nil {
			b.Fatal(err)
		}
		it := db.NewIterator(nil, &opt.ReadOptions{Strict: opt.StrictAll})
		n := 0
		for it.Next() {
			n++
		}
		it.Release()
		if err := it.Error(); err != nil {
			b.Fatal(err)
		}
		db.Close()
		if n == 0 {
			b.Fatal("empty copy")
		}
	}
}

// BenchmarkVerifySupervised is a verify through Submit, the queue and its
// events; BenchmarkVerifyDirect the same tables.Verify called directly.
func BenchmarkVerifySupervised(b *testing.B) {
	h := start(b, harnessOpt{})
	fill(b, h.open("users"), 2000, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tk, err := h.sup.Submit(context.Background(), Command{Table: "users", Verb: events.VerbVerify})
		if err != nil {
			b.Fatal(err)
		}
		<-tk.Done()
		if tk.Err() != nil {
			b.Fatal(tk.Err())
		}
	}
}

func BenchmarkVerifyDirect(b *testing.B) {
	h := start(b, harnessOpt{})
	tb := h.open("users")
	fill(b, tb, 2000, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := tb.Verify(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
	}
}
