package tables

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// TestDrillWhileWritesGoOn: a drill with four writers running compares the
// newest backup plus the journal with a snapshot of the live table at the
// same position and passes; it leaves nothing behind. Without a backup it
// fails with not_found; with a damaged backup it fails with
// ErrBackupInvalid, the table untouched.
func TestDrillWhileWritesGoOn(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t, t.TempDir(), nil)
	tb := mustOpen(t, s, "t")
	if _, err := tb.Drill(ctx, nil); apierr.CodeOf(err) != apierr.NotFound {
		t.Fatalf("drill without a backup: %v, want not_found", err)
	}
	m := model{}
	m.churn(t, tb, "a", "one", 30)
	b, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.churn(t, tb, "b", "two", 120) // past a journal flush

	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := tb.Put(ctx, fmt.Sprintf("w%d-%03d", w, i%50), val(i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var res DrillResult
	for i := 0; i < 3; i++ {
		if res, err = tb.Drill(ctx, nil); err != nil {
			break
		}
	}
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("drill while writes go on: %v", err)
	}
	if res.BackupID != b.ID || res.JournalRecords < 120*11 || res.Records < int64(len(m)) || res.Digest == "" {
		t.Fatalf("drill result %+v", res)
	}
	if lo := leftovers(t, s.Root()); len(lo) != 0 {
		t.Fatalf("leftovers %v", lo)
	}

	dir, _ := s.BackupDir("t", b.ID)
	flipByte(t, newestFile(t, dir, ".ldb"), -1)
	_, err = tb.Drill(ctx, nil)
	if !errors.Is(err, ErrBackupInvalid) {
		t.Fatalf("drill of a damaged backup: %v, want ErrBackupInvalid", err)
	}
	if ok, _ := tb.Available(); !ok {
		t.Fatal("a failed drill made the table unavailable")
	}
	if lo := leftovers(t, s.Root()); len(lo) != 0 {
		t.Fatalf("leftovers %v", lo)
	}
}
