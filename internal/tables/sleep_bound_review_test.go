package tables

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// With a bound of one awake table and requests to several tables at once,
// every wake puts the others to sleep: each request still completes
// without waking its table over and over (a wake must not undo another's
// before its request used it: before the fix, 320 requests took ~7,000
// wakes), and after the load and a sweep at most one table is awake. A
// wake is counted by the journal it puts into the archive (every open of
// a table starts a new journal and archives the old one).
func TestReviewBoundOfOneUnderConcurrentRequests(t *testing.T) {
	ctx := context.Background()
	s := openBoundedStore(t, t.TempDir(), 1, nil)
	const tablesN, workers, requests = 4, 8, 40
	for i := 0; i < tablesN; i++ {
		fill(t, mustOpen(t, s, fmt.Sprintf("t%d", i)), "k", 0, 5)
	}
	archived := func() int {
		n := 0
		for i := 0; i < tablesN; i++ {
			ents, err := os.ReadDir(s.journalPath(fmt.Sprintf("t%d", i)))
			if err != nil {
				t.Fatal(err)
			}
			n += len(ents)
		}
		return n
	}
	before := archived()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < requests; n++ {
				tb := mustOpen(t, s, fmt.Sprintf("t%d", (n+w)%tablesN))
				var err error
				if n%4 == 0 {
					err = tb.Put(ctx, fmt.Sprintf("w%d-%d", w, n), val(n))
				} else {
					_, err = tb.Get(ctx, fmt.Sprintf("k%06d", n%5))
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if wakes := archived() - before; wakes > 2*workers*requests {
		t.Fatalf("%d wakes for %d requests", wakes, workers*requests)
	}
	// A wake leaves the tables used since to their own wakes; the sweep
	// puts what is left over the bound to sleep.
	if _, err := s.SleepIdle(ctx, time.Hour); err != nil {
		t.Fatal(err)
	}
	if a := s.Awake(); a > 1 {
		t.Fatalf("%d awake after the load and a sweep, bound 1", a)
	}
}

// Store.Close while requests wake tables under a bound: every request
// either succeeds or answers table_unavailable (closed), nothing is served
// from a closed handle, and a store opened again holds every write that
// was acknowledged.
func TestReviewStoreCloseRacesWakes(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, err := OpenStore(root, Options{MaxOpen: 1})
	if err != nil {
		t.Fatal(err)
	}
	const tablesN, workers = 3, 6
	tbs := make([]*Table, tablesN)
	for i := range tbs {
		tbs[i] = mustOpen(t, s, fmt.Sprintf("t%d", i))
	}
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, workers+1)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for n := 0; ; n++ {
				tb := tbs[(n+w)%tablesN]
				k := fmt.Sprintf("w%d-%05d", w, n)
				err := tb.Put(ctx, k, val(n))
				if err == nil {
					mu.Lock()
					acked[tb.Name()+"/"+k] = true
					mu.Unlock()
					if _, err = tb.Get(ctx, k); err == nil {
						continue
					}
				}
				if apierr.CodeOf(err) != apierr.TableUnavailable {
					errs <- fmt.Errorf("%s %s: %w", tb.Name(), k, err)
				}
				return
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		for n := 0; n < 30; n++ {
			if _, err := s.SleepIdle(ctx, 0); err != nil {
				errs <- err
				return
			}
		}
		if err := s.Close(); err != nil {
			errs <- fmt.Errorf("close: %w", err)
		}
	}()
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s2 := openBoundedStore(t, root, 1, nil)
	for key := range acked {
		tb := mustOpen(t, s2, key[:2])
		if _, err := tb.Get(ctx, key[3:]); err != nil {
			t.Fatalf("acknowledged %s: %v", key, err)
		}
	}
	if len(acked) == 0 {
		t.Fatal("nothing acknowledged")
	}
}
