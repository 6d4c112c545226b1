package tables

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// A restore of a sleeping table that fails after its commit point moved
// the live directory to quarantine leaves the table with no database to
// serve, as it does for an awake table: SetAvailable refuses (the
// supervisor then degrades the table) and no request is served from a
// database the wake would make up in the empty place.
func TestReviewFailedRestoreOfSleepingTable(t *testing.T) {
	for _, asleep := range []bool{false, true} {
		t.Run(fmt.Sprintf("asleep=%v", asleep), func(t *testing.T) {
			ctx := context.Background()
			root := t.TempDir()
			var s *Store
			var err error
			s, err = OpenStore(root, Options{Failpoint: func(name string) {
				if name == FPRestoreAfterQuarantine {
					// The verified copy cannot be renamed into place.
					os.RemoveAll(filepath.Join(s.root, tablesDir, readyPrefix+"t"))
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			tb := mustOpen(t, s, "t")
			fill(t, tb, "k", 0, 20)
			b, err := tb.Backup(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if asleep {
				if slept, err := tb.Sleep(0); !slept || err != nil {
					t.Fatalf("sleep: %v %v", slept, err)
				}
			}
			if _, err := tb.RestoreFrom(ctx, b.ID, nil); err == nil {
				t.Fatal("the restore did not fail")
			}
			if err := tb.SetAvailable(); err == nil {
				v, gerr := tb.Get(ctx, "k000001")
				t.Fatalf("SetAvailable after a restore that left no live directory: ok; then get k000001: %s, %v", v, gerr)
			}
			if _, err := tb.Get(ctx, "k000001"); apierr.CodeOf(err) != apierr.TableUnavailable {
				t.Fatalf("get: %v, want table_unavailable", err)
			}
		})
	}
}

// A sleeping table whose directory is removed by hand is not made up
// empty by its wake: a request answers table_unavailable (the corruption
// is reported, the supervisor restores it), as Store.Open answers for a
// table whose directory is missing while it has backups.
func TestReviewWakeOfRemovedDirectory(t *testing.T) {
	ctx := context.Background()
	det := &detections{}
	s := openTestStore(t, t.TempDir(), det)
	tb := mustOpen(t, s, "t")
	fill(t, tb, "k", 0, 20)
	if _, err := tb.Backup(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if slept, err := tb.Sleep(0); !slept || err != nil {
		t.Fatalf("sleep: %v %v", slept, err)
	}
	if err := os.RemoveAll(tb.Dir()); err != nil {
		t.Fatal(err)
	}
	v, err := tb.Get(ctx, "k000001")
	if apierr.CodeOf(err) != apierr.TableUnavailable {
		t.Fatalf("get on a sleeping table whose directory is gone: %s, %v; want table_unavailable", v, err)
	}
	if len(det.list()) == 0 {
		t.Fatal("the missing directory was not reported as a corruption")
	}
	if ok, why := tb.Available(); ok || why != ReasonCorrupted {
		t.Fatalf("available %v %q, want corrupted", ok, why)
	}
}
