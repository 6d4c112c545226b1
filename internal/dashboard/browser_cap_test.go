package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/custodian-dev/custodian/internal/events"
)

// TestBrowserPollsAtTheStreamCap: with the only live-update slot taken,
// the page loads, says it polls, and shows new events and a new table's
// row from its polls; once the slot is free it goes live again (it
// retries every 15 s) without showing a row twice.
func TestBrowserPollsAtTheStreamCap(t *testing.T) {
	ctx := browser(t)
	e := setup(t, Config{Limits: Limits{MaxStreams: 1}})
	e.publish(ev(events.TableStats, "n1", "users", withData("bytes", 1000, "records", 10)))
	holder, release := e.streamFrom("127.0.0.1") // the only slot
	if holder.StatusCode != http.StatusOK {
		t.Fatalf("holder: %d", holder.StatusCode)
	}
	must := browserMust(t)
	row := func(seq uint64) string { return fmt.Sprintf(`#history tbody tr[data-seq="%d"]`, seq) }
	// within bounds a wait, so that a page that never polls fails the test
	// before the browser's own timeout.
	within := func(d time.Duration, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		wctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		must(chromedp.Do(wctx, actions...))
	}

	within(20*time.Second, chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(`#live.poll`), chromedp.WaitVisible(rowOf("n1", "users")))
	text, err := chromedp.Run(ctx, chromedp.Text(`#live`))
	must(err)
	if text != "polling" {
		t.Fatalf("live badge %q at the cap", text)
	}

	// New events reach the page through its polls.
	compacted := e.publish(ev(events.CompactionCompleted, "n1", "users", withResult("ok", 5, "")))
	orders := e.publish(ev(events.TableStats, "n1", "orders", withData("bytes", 900, "records", 9)))
	within(20*time.Second, chromedp.WaitVisible(row(compacted)), chromedp.WaitVisible(rowOf("n1", "orders")))

	// A slot frees: the page goes live again and follows new events.
	release()
	e.waitStreams(0)
	within(40*time.Second, chromedp.WaitVisible(`#live.on`))
	failed := e.publish(ev(events.BackupFailed, "n1", "orders", withResult("failed", 2, "disk full")))
	within(20*time.Second, chromedp.WaitVisible(row(failed)))
	seqs, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[...document.querySelectorAll('#history tbody tr')].map((r) => Number(r.dataset.seq))`))
	must(err)
	seen := map[int]bool{}
	for _, s := range seqs {
		if seen[s] {
			t.Fatalf("row %d twice: %v", s, seqs)
		}
		seen[s] = true
	}
	if !seen[int(compacted)] || !seen[int(failed)] || seen[int(orders)] {
		t.Fatalf("history rows %v (stats hidden), want %d and %d", seqs, compacted, failed)
	}
}
