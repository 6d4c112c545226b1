package tables

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// Benchmarks of the figures, each a ratio against a baseline
// measured in the same run on a copy of the same table. The table has
// CUSTODIAN_BENCH_MB MiB of written records (default 32; the size is
// 256) of which 30% are dead (overwritten). Run them once each:
//
//	CUSTODIAN_BENCH_MB=256 go test -run '^$' -bench . -benchtime=1x -timeout 60m ./internal/tables/
//
// Figures are reported as custom metrics (ratio, seconds, p99 in ms).

const benchDeadRatio = 0.30

func benchMB(b *testing.B) int { return benchEnv(b, "CUSTODIAN_BENCH_MB", 32) }

// benchEnv is the positive whole number in the environment variable name,
// or def when it is not set (scripts/bench.sh sets the sizes).
func benchEnv(b *testing.B, name string, def int) int {
	if v := os.Getenv(name); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want a positive whole number", name, v)
		}
		return n
	}
	return def
}

type benchTemplate struct {
	dir       string // a closed database with its dead sidecar
	live      int64
	liveBytes int64
	dead      int64
}

// benchValue is a JSON value of about 200 bytes that snappy cannot shrink
// (base64 of a hash chain), so that MiB written are MiB on disk.
func benchValue(i, gen int) []byte {
	var raw []byte
	h := sha256.Sum256([]byte(fmt.Sprint(i, gen)))
	for len(raw) < 128 {
		raw = append(raw, h[:]...)
		h = sha256.Sum256(h[:])
	}
	v, _ := json.Marshal(map[string]any{"i": i, "gen": gen, "data": base64.StdEncoding.EncodeToString(raw)})
	return v
}

// buildTemplate writes a table of mb MiB of records, 30% of them dead.
func buildTemplate(b *testing.B, dir string, mb int) benchTemplate {
	b.Helper()
	db, err := leveldb.OpenFile(dir, dbOptions(false))
	if err != nil {
		b.Fatal(err)
	}
	recSize := len(benchValue(0, 0)) + 9
	total := int64(mb) << 20 / int64(recSize)
	live := int64(float64(total) * (1 - benchDeadRatio))
	if live%7919 == 0 {
		live++
	}
	dead := total - live
	var batch leveldb.Batch
	put := func(k, v []byte) {
		batch.Put(k, v)
		if batch.Len() >= 2000 {
			if err := db.Write(&batch, nil); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
		}
	}
	tpl := benchTemplate{dir: dir, live: live, dead: dead}
	for i := int64(0); i < live; i++ {
		put([]byte(fmt.Sprintf("k%08d", i)), benchValue(int(i), 0))
	}
	for j := int64(0); j < dead; j++ {
		i := (j * 7919) % live
		put([]byte(fmt.Sprintf("k%08d", i)), benchValue(int(i), 1))
	}
	if batch.Len() > 0 {
		if err := db.Write(&batch, nil); err != nil {
			b.Fatal(err)
		}
	}
	it := db.NewIterator(nil, nil)
	for it.Next() {
		tpl.liveBytes += int64(len(it.Key()) + len(it.Value()))
	}
	it.Release()
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	if err := writeDead(dir, deadState{Live: live, LiveBytes: tpl.liveBytes, Dead: dead, DeadBytes: dead * int64(recSize), Clean: true}, true); err != nil {
		b.Fatal(err)
	}
	return tpl
}

func cpR(b *testing.B, src, dst string) {
	b.Helper()
	if out, err := exec.Command("cp", "-r", src, dst).CombinedOutput(); err != nil {
		b.Fatalf("cp -r: %v %s", err, out)
	}
}

// storeWith makes a store under root whose table "t" is a copy of tpl.
func storeWith(b *testing.B, root string, tpl benchTemplate) (*Store, *Table) {
	b.Helper()
	if err := os.MkdirAll(filepath.Join(root, tablesDir), 0o755); err != nil {
		b.Fatal(err)
	}
	cpR(b, tpl.dir, filepath.Join(root, tablesDir, "t"))
	s, err := OpenStore(root, Options{})
	if err != nil {
		b.Fatal(err)
	}
	tb, err := s.Open(context.Background(), "t", false)
	if err != nil {
		b.Fatal(err)
	}
	return s, tb
}

// latencies runs synced puts on tb until stop is closed (or n puts when n > 0)
// and returns their latencies.
func latencies(tb *Table, prefix string, n int, stop <-chan struct{}) []time.Duration {
	var out []time.Duration
	v := json.RawMessage(`{"probe":true}`)
	for i := 0; n <= 0 || i < n; i++ {
		if stop != nil {
			select {
			case <-stop:
				return out
			default:
			}
		}
		t0 := time.Now()
		if err := tb.Put(context.Background(), fmt.Sprintf("%s%08d", prefix, i), v); err != nil {
			return out
		}
		out = append(out, time.Since(t0))
	}
	return out
}

func p99(ds []time.Duration) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return float64(s[(len(s)*99)/100].Microseconds()) / 1000
}

// during runs op while a writer measures put latencies; it returns op's
// duration and the latencies.
func during(tb *Table, prefix string, op func()) (time.Duration, []time.Duration) {
	stop := make(chan struct{})
	var lat []time.Duration
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		lat = latencies(tb, prefix, 0, stop)
	}()
	t0 := time.Now()
	op()
	d := time.Since(t0)
	close(stop)
	wg.Wait()
	return d, lat
}

func benchSetup(b *testing.B) benchTemplate {
	b.Helper()
	b.StopTimer()
	mb := benchMB(b)
	t0 := time.Now()
	tpl := buildTemplate(b, filepath.Join(b.TempDir(), "template"), mb)
	size, _ := dirSize(tpl.dir)
	b.Logf("template: %d MiB written, %d live records, %d dead (%.0f%%), %.1f MiB on disk, built in %v",
		mb, tpl.live, tpl.dead, 100*float64(tpl.dead)/float64(tpl.live+tpl.dead), float64(size)/(1<<20), time.Since(t0).Round(time.Millisecond))
	return tpl
}

// openRawCopy copies the template's database (cp -r) and opens the copy
// with goleveldb alone, as a baseline's starting point.
func openRawCopy(b *testing.B, tpl benchTemplate) *leveldb.DB {
	b.Helper()
	raw := filepath.Join(b.TempDir(), "raw")
	cpR(b, tpl.dir, raw)
	db, err := leveldb.OpenFile(raw, dbOptions(false))
	if err != nil {
		b.Fatal(err)
	}
	return db
}

func BenchmarkNativeCompact(b *testing.B) {
	tpl := benchSetup(b)
	var base, ours time.Duration
	for i := 0; i < b.N; i++ {
		db := openRawCopy(b, tpl)
		t0 := time.Now()
		if err := db.CompactRange(util.Range{}); err != nil {
			b.Fatal(err)
		}
		base += time.Since(t0)
		db.Close()

		s, tb := storeWith(b, b.TempDir(), tpl)
		b.StartTimer()
		t0 = time.Now()
		if _, err := tb.Compact(context.Background(), ModeNative, nil); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(t0)
		b.StopTimer()
		s.Close()
	}
	b.ReportMetric(ours.Seconds()/base.Seconds(), "native/raw")
	b.ReportMetric(base.Seconds()/float64(b.N), "raw_s")
	b.ReportMetric(ours.Seconds()/float64(b.N), "native_s")
}

// rawCopy is the baseline of a rewrite: a snapshot of src iterated into a
// new database in dst, in 1 MiB batches, closed and fsynced.
func rawCopy(b *testing.B, src *leveldb.DB, dst string) {
	snap, err := src.GetSnapshot()
	if err != nil {
		b.Fatal(err)
	}
	defer snap.Release()
	ndb, err := leveldb.OpenFile(dst, dbOptions(false))
	if err != nil {
		b.Fatal(err)
	}
	it := snap.NewIterator(nil, nil)
	var batch leveldb.Batch
	size := 0
	for it.Next() {
		batch.Put(it.Key(), it.Value())
		size += len(it.Key()) + len(it.Value())
		if size >= copyBatchBytes {
			if err := ndb.Write(&batch, bulkWrite()); err != nil {
				b.Fatal(err)
			}
			batch.Reset()
			size = 0
		}
	}
	it.Release()
	if err := ndb.Write(&batch, bulkWrite()); err != nil {
		b.Fatal(err)
	}
	if err := ndb.Close(); err != nil {
		b.Fatal(err)
	}
	// A copy is a copy once it is on disk: the baseline fsyncs it too.
	if err := syncTree(dst); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkRewrite(b *testing.B) {
	tpl := benchSetup(b)
	var base, ours time.Duration
	var pause, after, idleP99, busyP99 float64
	for i := 0; i < b.N; i++ {
		db := openRawCopy(b, tpl)
		t0 := time.Now()
		rawCopy(b, db, filepath.Join(b.TempDir(), "copy"))
		base += time.Since(t0)
		db.Close()

		s, tb := storeWith(b, b.TempDir(), tpl)
		idle := latencies(tb, "idle", 500, nil)
		var res CompactResult
		var err error
		b.StartTimer()
		d, lat := during(tb, "busy", func() {
			res, err = tb.Compact(context.Background(), ModeRewrite, nil)
		})
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		ours += d
		pause = max(pause, res.PauseMS)
		st, _ := tb.Stats(context.Background())
		after = float64(st.Bytes) / float64(tpl.liveBytes)
		idleP99, busyP99 = p99(idle), p99(lat)
		b.Logf("rewrite %+v; puts during: %d; live bytes %d", res, len(lat), tpl.liveBytes)
		s.Close()
	}
	b.ReportMetric(ours.Seconds()/base.Seconds(), "rewrite/rawcopy")
	b.ReportMetric(base.Seconds()/float64(b.N), "rawcopy_s")
	b.ReportMetric(ours.Seconds()/float64(b.N), "rewrite_s")
	b.ReportMetric(after, "bytes_after/live")
	b.ReportMetric(pause, "max_pause_ms")
	b.ReportMetric(idleP99, "idle_p99_ms")
	b.ReportMetric(busyP99, "rewrite_p99_ms")
	b.ReportMetric(busyP99/idleP99, "p99_rewrite/idle")
}

func BenchmarkBackup(b *testing.B) {
	tpl := benchSetup(b)
	var base, baseSync, ours time.Duration
	var idleP99, busyP99 float64
	for i := 0; i < b.N; i++ {
		s, tb := storeWith(b, b.TempDir(), tpl)
		// Baseline: cp -r of the table directory + one strict scan.
		cp := filepath.Join(b.TempDir(), "cp")
		t0 := time.Now()
		cpR(b, tb.Dir(), cp)
		if _, err := VerifyDir(context.Background(), cp); err != nil {
			b.Fatal(err)
		}
		base += time.Since(t0)
		timeSync(b, cp)
		baseSync += time.Since(t0)

		idle := latencies(tb, "idle", 500, nil)
		var err error
		b.StartTimer()
		d, lat := during(tb, "busy", func() {
			_, err = tb.Backup(context.Background(), nil)
		})
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		ours += d
		idleP99, busyP99 = p99(idle), p99(lat)
		s.Close()
	}
	b.ReportMetric(ours.Seconds()/base.Seconds(), "backup/(cp+scan)")
	b.ReportMetric(ours.Seconds()/baseSync.Seconds(), "backup/(cp+scan+fsync)")
	b.ReportMetric(base.Seconds()/float64(b.N), "cp+scan_s")
	b.ReportMetric(ours.Seconds()/float64(b.N), "backup_s")
	b.ReportMetric(idleP99, "idle_p99_ms")
	b.ReportMetric(busyP99, "backup_p99_ms")
	b.ReportMetric(busyP99/idleP99, "p99_backup/idle")
}

func BenchmarkRestore(b *testing.B) {
	tpl := benchSetup(b)
	ctx := context.Background()
	var base, baseSync, ours time.Duration
	for i := 0; i < b.N; i++ {
		root := b.TempDir()
		s, tb := storeWith(b, root, tpl)
		m, err := tb.Backup(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		s.Close()
		flipByte(&testing.T{}, newestFile(&testing.T{}, filepath.Join(root, tablesDir, "t"), ".ldb"), -1)
		// Baseline: cp -r of the backup + one strict scan.
		bdir := filepath.Join(root, backupsDir, "t", m.ID)
		cp := filepath.Join(b.TempDir(), "cp")
		t0 := time.Now()
		cpR(b, bdir, cp)
		if _, err := VerifyDir(ctx, cp); err != nil {
			b.Fatal(err)
		}
		base += time.Since(t0)
		timeSync(b, cp)
		baseSync += time.Since(t0)

		s, err = OpenStore(root, Options{})
		if err != nil {
			b.Fatal(err)
		}
		tb, err = s.Open(ctx, "t", false)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tb.Verify(ctx, nil); !IsCorruption(err) {
			b.Fatalf("damage not detected: %v", err)
		}
		// Detection to serving: quarantine, restore from the latest
		// backup (copy, verify, open/close test, swap), first read.
		b.StartTimer()
		t0 = time.Now()
		if _, err := tb.Quarantine(ctx); err != nil {
			b.Fatal(err)
		}
		bs, err := s.Backups("t")
		if err != nil || len(bs) == 0 {
			b.Fatal(err)
		}
		if _, err := tb.RestoreFrom(ctx, bs[0].ID, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := tb.Get(ctx, "k00000001"); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(t0)
		b.StopTimer()
		s.Close()
	}
	b.ReportMetric(ours.Seconds()/base.Seconds(), "restore/(cp+scan)")
	b.ReportMetric(ours.Seconds()/baseSync.Seconds(), "restore/(cp+scan+fsync)")
	b.ReportMetric(base.Seconds()/float64(b.N), "cp+scan_s")
	b.ReportMetric(ours.Seconds()/float64(b.N), "restore_s")
}

// timeSync fsyncs the files of a copy: the baselines with "+fsync" include
// it (ours must be durable; cp -r is not).
func timeSync(b *testing.B, dir string) {
	b.Helper()
	if err := syncTree(dir); err != nil {
		b.Fatal(err)
	}
}

// rawStrictScan is the baseline of a verify: one strict scan of db with
// the digest, as raw goleveldb calls.
func rawStrictScan(b *testing.B, db *leveldb.DB) VerifyResult {
	b.Helper()
	it := db.NewIterator(nil, strictRead())
	d := NewDigester()
	for it.Next() {
		d.Add(it.Key(), it.Value())
	}
	it.Release()
	if err := it.Error(); err != nil {
		b.Fatal(err)
	}
	return d.Result()
}

func BenchmarkVerify(b *testing.B) {
	tpl := benchSetup(b)
	ctx := context.Background()
	var base, ours, baseWarm, oursWarm, files time.Duration
	var fileBytes int64
	for i := 0; i < b.N; i++ {
		// Baseline: one strict scan with digest of an open copy, twice
		// (the second with goleveldb's block cache as the first left it).
		db := openRawCopy(b, tpl)
		t0 := time.Now()
		want := rawStrictScan(b, db)
		base += time.Since(t0)
		t0 = time.Now()
		rawStrictScan(b, db)
		baseWarm += time.Since(t0)
		db.Close()

		s, tb := storeWith(b, b.TempDir(), tpl)
		b.StartTimer()
		t0 = time.Now()
		res, err := tb.Verify(ctx, nil)
		ours += time.Since(t0)
		if err != nil || res != want {
			b.Fatalf("verify %+v %v, want %+v", res, err, want)
		}
		t0 = time.Now()
		if _, err := tb.Verify(ctx, nil); err != nil {
			b.Fatal(err)
		}
		oursWarm += time.Since(t0)
		b.StopTimer()
		// The part this Verify adds: the table files read from disk.
		t0 = time.Now()
		if _, n, err := checkLiveFiles(ctx, tb.db.DB, tb.Dir(), nil); err != nil {
			b.Fatal(err)
		} else {
			fileBytes += n
		}
		files += time.Since(t0)
		s.Close()
	}
	b.ReportMetric(files.Seconds()/base.Seconds(), "filecheck/scan")
	b.ReportMetric(files.Seconds()/float64(b.N), "filecheck_s")
	b.ReportMetric(float64(fileBytes)/float64(b.N)/(1<<20), "file_MiB")
	b.ReportMetric(ours.Seconds()/base.Seconds(), "verify/scan")
	b.ReportMetric(oursWarm.Seconds()/baseWarm.Seconds(), "verify2/scan2")
	b.ReportMetric(base.Seconds()/float64(b.N), "scan_s")
	b.ReportMetric(ours.Seconds()/float64(b.N), "verify_s")
	b.ReportMetric(baseWarm.Seconds()/float64(b.N), "scan2_s")
	b.ReportMetric(oursWarm.Seconds()/float64(b.N), "verify2_s")
}

// BenchmarkOpenAfterUncleanStop: opening a table whose sidecar says it was
// not closed cleanly (the live records are recounted, see recountLive)
// against opening the same table closed cleanly (the sidecar is trusted),
// each on a fresh copy, so the recount reads the table files from the page
// cache as the clean open would.
func BenchmarkOpenAfterUncleanStop(b *testing.B) {
	tpl := benchSetup(b)
	ctx := context.Background()
	var clean, unclean time.Duration
	for i := 0; i < b.N; i++ {
		for _, wasClean := range []bool{true, false} {
			root := b.TempDir()
			if err := os.MkdirAll(filepath.Join(root, tablesDir), 0o755); err != nil {
				b.Fatal(err)
			}
			dir := filepath.Join(root, tablesDir, "t")
			cpR(b, tpl.dir, dir)
			d, _, err := readDead(dir)
			if err != nil {
				b.Fatal(err)
			}
			d.Clean = wasClean
			if err := writeDead(dir, d, true); err != nil {
				b.Fatal(err)
			}
			s, err := OpenStore(root, Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			t0 := time.Now()
			tb, err := s.Open(ctx, "t", false)
			el := time.Since(t0)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			if st, _ := tb.Stats(ctx); st.Records != tpl.live {
				b.Fatalf("open (clean %v): %d records, want %d", wasClean, st.Records, tpl.live)
			}
			if wasClean {
				clean += el
			} else {
				unclean += el
			}
			s.Close()
		}
	}
	b.ReportMetric(unclean.Seconds()/clean.Seconds(), "unclean/clean")
	b.ReportMetric(clean.Seconds()/float64(b.N), "clean_open_s")
	b.ReportMetric(unclean.Seconds()/float64(b.N), "unclean_open_s")
}
