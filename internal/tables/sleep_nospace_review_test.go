package tables

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/disktest"
)

// On a full disk reads go on (issue 13), also on a table that was put to
// sleep: its wake cannot write (goleveldb's open flushes the journal into
// a table file and writes a new MANIFEST), so the table is read from a
// read-only open meanwhile; writes answer no_space.
func TestReviewFullDiskReadsOfSleepingTable(t *testing.T) {
	ctx := context.Background()
	disk := disktest.Small(t, 24<<20)
	s, err := OpenStore(disk, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tb := mustOpen(t, s, "t")
	for i := 0; i < 50; i++ {
		if err := tb.Put(ctx, fmt.Sprintf("a%06d", i), val(i)); err != nil {
			t.Fatal(err)
		}
	}
	if slept, err := tb.Sleep(0); !slept || err != nil {
		t.Fatalf("sleep: %v %v", slept, err)
	}
	filler := disktest.Fill(t, disk)
	v, err := tb.Get(ctx, "a000007")
	if err != nil || string(v) != string(val(7)) {
		t.Fatalf("a read of a sleeping table on a full disk: %s %v", v, err)
	}
	if err := tb.Put(ctx, "full", val(1)); apierr.CodeOf(err) != apierr.NoSpace {
		t.Fatalf("a write on a full disk: %v, want no_space", err)
	}
	disktest.Unfill(t, filler)
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := tb.Put(ctx, "after", val(1))
		if err == nil {
			break
		}
		if apierr.CodeOf(err) != apierr.NoSpace || time.Now().After(deadline) {
			t.Fatalf("writes after space came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The table took a write: its sidecar must not say it was closed
	// cleanly (a start would register it asleep at its old position).
	if d, ok, err := readDead(tb.Dir()); err != nil || !ok || d.Clean {
		t.Fatalf("sidecar after the heal and a write: %+v %v %v, want not clean", d, ok, err)
	}
	for i := 0; i < 50; i++ {
		if v, err := tb.Get(ctx, fmt.Sprintf("a%06d", i)); err != nil || string(v) != string(val(i)) {
			t.Fatalf("a%06d after the heal: %s %v", i, v, err)
		}
	}
}
