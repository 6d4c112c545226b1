package tables

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Writers, readers, scanners and every kind of maintenance (backup,
// native and rewrite compaction, verify, drill) on tables beyond a bound
// of one awake table, while sweeps put them to sleep and grow fast
// writers' buffers (a reopen) and Sleep is called directly: no request
// fails, every acknowledged write is read back, the bound holds once the
// load stops, and a restore of the first backup of each table (backup +
// journal across every sleep and wake) brings back every write.
func TestReviewSleepRacesMaintenance(t *testing.T) {
	ctx := context.Background()
	s, err := OpenStore(t.TempDir(), Options{MaxOpen: 1, BusyBytes: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const tablesN, writersPer = 3, 2
	tbs := make([]*Table, tablesN)
	first := make([]string, tablesN)
	for i := range tbs {
		tbs[i] = mustOpen(t, s, fmt.Sprintf("t%d", i))
		fill(t, tbs[i], "pre", 0, 50)
		m, err := tbs[i].Backup(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		first[i] = m.ID
	}
	stop := make(chan struct{})
	var failed atomic.Value
	fail := func(err error) {
		failed.CompareAndSwap(nil, err)
	}
	var bg sync.WaitGroup
	// Sweeps and direct sleeps.
	bg.Add(2)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.SleepIdle(ctx, 0); err != nil {
				fail(fmt.Errorf("sweep: %w", err))
				return
			}
		}
	}()
	go func() {
		defer bg.Done()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := tbs[n%tablesN].Sleep(0); err != nil {
				fail(fmt.Errorf("sleep: %w", err))
				return
			}
		}
	}()
	// Maintenance, one goroutine per table.
	var maint atomic.Int64
	for i, tb := range tbs {
		bg.Add(1)
		go func() {
			defer bg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				var err error
				switch n % 5 {
				case 0:
					_, err = tb.Backup(ctx, nil)
				case 1:
					_, err = tb.Compact(ctx, ModeRewrite, nil)
				case 2:
					_, err = tb.Verify(ctx, nil)
				case 3:
					_, err = tb.Drill(ctx, nil)
				case 4:
					_, err = tb.Compact(ctx, ModeNative, nil)
				}
				if err != nil {
					fail(fmt.Errorf("t%d: maintenance %d: %w", i, n%5, err))
					return
				}
				maint.Add(1)
			}
		}()
	}
	// Readers: a scan and gets of the keys written before.
	for i, tb := range tbs {
		bg.Add(1)
		go func() {
			defer bg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := tb.Get(ctx, fmt.Sprintf("pre%06d", n%50)); err != nil {
					fail(fmt.Errorf("t%d: get: %w", i, err))
					return
				}
				page, err := tb.Scan(ctx, "pre", "", 20)
				if err != nil || len(page.Items) != 20 {
					fail(fmt.Errorf("t%d: scan: %d items, %v", i, len(page.Items), err))
					return
				}
			}
		}()
	}
	// Writers.
	var wg sync.WaitGroup
	ws := make([][]*writer, tablesN)
	for i, tb := range tbs {
		for w := 0; w < writersPer; w++ {
			wr := &writer{id: w}
			ws[i] = append(ws[i], wr)
			wg.Add(1)
			go func() {
				defer wg.Done()
				wr.run(ctx, tb, stop, true)
			}()
		}
	}
	for maint.Load() < 40 && failed.Load() == nil {
		if err := ctx.Err(); err != nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	bg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SleepIdle(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for i, tb := range tbs {
		checkAcked(t, tb, ws[i])
	}
	if a := s.Awake(); a > 1 {
		t.Fatalf("%d tables awake after the load, bound 1", a)
	}
	for i, tb := range tbs {
		if _, err := tb.Sleep(0); err != nil {
			t.Fatal(err)
		}
		rr, err := tb.RestoreFrom(ctx, first[i], nil)
		if err != nil || rr.Lost {
			t.Fatalf("t%d: restore of the first backup: %+v, %v", i, rr, err)
		}
		checkAcked(t, tb, ws[i])
	}
}
