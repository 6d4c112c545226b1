package tables

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/disktest"
	"github.com/custodian-dev/custodian/internal/logtail"
)

// faultLog records OnWriteFault and OnTornTail calls.
type faultLog struct {
	mu     sync.Mutex
	faults []error
	cuts   []logtail.Cut
}

func (f *faultLog) fault(_ string, err error) {
	f.mu.Lock()
	f.faults = append(f.faults, err)
	f.mu.Unlock()
}

func (f *faultLog) cut(_, _ string, c logtail.Cut) {
	f.mu.Lock()
	f.cuts = append(f.cuts, c)
	f.mu.Unlock()
}

func (f *faultLog) counts() (int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.faults), len(f.cuts)
}

// TestFullDiskHealsWithoutARestart is issue 13's defect 2 in the storage
// core: on a real 24 MiB tmpfs filled to the last byte, writes fail with
// no_space (goleveldb keeps its journal writer's first error, so before the
// fix every later write failed even once space was back, until a restart),
// reads go on, no corruption is reported, and once the filler is removed
// writes work again without a restart; every acknowledged write is there,
// also after the store is closed and opened again.
func TestFullDiskHealsWithoutARestart(t *testing.T) {
	for _, noSync := range []bool{false, true} {
		t.Run(fmt.Sprintf("nosync=%v", noSync), func(t *testing.T) {
			fullDiskHeals(t, noSync)
		})
	}
}

func fullDiskHeals(t *testing.T, noSync bool) {
	ctx := context.Background()
	disk := disktest.Small(t, 24<<20)
	det := &detections{}
	fl := &faultLog{}
	s, err := OpenStore(disk, Options{NoSync: noSync, OnCorruption: det.record, OnWriteFault: fl.fault, OnTornTail: fl.cut})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	tb := mustOpen(t, s, "t2")
	acked := map[string]string{}
	for i := 0; i < 50; i++ {
		k := fmt.Sprintf("a%06d", i)
		if err := tb.Put(ctx, k, val(i)); err != nil {
			t.Fatal(err)
		}
		acked[k] = string(val(i))
	}
	filler := disktest.Fill(t, disk)

	// Write until the disk refuses (the journal's page may take a few).
	var refused error
	for i := 0; i < 10_000 && refused == nil; i++ {
		k := fmt.Sprintf("b%06d", i)
		v := fmt.Sprintf(`{"i":%d,"pad":"%02600d"}`, i, i)
		if err := tb.Put(ctx, k, []byte(v)); err != nil {
			refused = err
		} else {
			acked[k] = v
		}
	}
	if apierr.CodeOf(refused) != apierr.NoSpace {
		t.Fatalf("a write on a full disk answered %v (code %s), want no_space", refused, apierr.CodeOf(refused))
	}
	if err := tb.Delete(ctx, "a000001"); apierr.CodeOf(err) != apierr.NoSpace {
		t.Fatalf("the next write answered %v, want no_space", err)
	}
	if _, ok := tb.WriteFault(); !ok {
		t.Fatalf("WriteFault reports no fault")
	}
	if v, err := tb.Get(ctx, "a000007"); err != nil || string(v) != acked["a000007"] {
		t.Fatalf("a read on a full disk: %s %v", v, err)
	}
	if n, _ := fl.counts(); n != 1 {
		t.Fatalf("OnWriteFault called %d times, want once", n)
	}

	disktest.Unfill(t, filler)
	// Space is back: writes work again without a restart (each write
	// tries a reopen at most once per backoff of at most 2 s).
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := tb.Put(ctx, "after", []byte(`"space is back"`))
		if err == nil {
			break
		}
		if apierr.CodeOf(err) != apierr.NoSpace || time.Now().After(deadline) {
			t.Fatalf("writes after space came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	acked["after"] = `"space is back"`
	if _, ok := tb.WriteFault(); ok {
		t.Fatalf("WriteFault still reports a fault after a write succeeded")
	}
	if len(det.list()) != 0 {
		t.Fatalf("a full disk was reported as corruption: %v", det.list())
	}
	check := func(tb *Table, what string) {
		for k, v := range acked {
			got, err := tb.Get(ctx, k)
			if err != nil || string(got) != v {
				t.Fatalf("%s: acknowledged %s lost: %v", what, k, err)
			}
		}
	}
	check(tb, "after the heal")
	if err := s.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	s, err = OpenStore(disk, Options{OnCorruption: det.record})
	if err != nil {
		t.Fatal(err)
	}
	tb = mustOpen(t, s, "t2")
	check(tb, "after a reopen")
	if len(det.list()) != 0 {
		t.Fatalf("corruption after the reopen: %v", det.list())
	}
}
