package dashboard

import (
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

// The event stream is deleted and created anew while the page is open: its
// sequences start over, so the page must drop the old rows and show the new
// stream's, although they carry the old rows' sequence numbers (a live row
// whose seq is on the page already is otherwise taken for a duplicate).
func TestBrowserFollowsANewStream(t *testing.T) {
	ctx := browser(t)
	e := setup(t, Config{StreamCheck: 50 * time.Millisecond})
	var old []events.Event
	for i := 0; i < 5; i++ {
		old = append(old, ev(events.CompactionCompleted, "n1", "users", withResult("ok", int64(i+1), "")))
	}
	e.publish(old...)
	must := browserMust(t)
	must(chromedp.Do(ctx, chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(`#history tbody tr[data-seq="5"]`)))
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.custodian && window.custodian.ready`))
	must(err)

	if err := e.js.DeleteStream(e.ctx, events.StreamName); err != nil {
		t.Fatal(err)
	}
	natstest.CreateStream(e.ctx, t, e.js, prefix)
	natstest.PublishAll(e.ctx, t, e.js, prefix, []events.Event{
		ev(events.BackupCompleted, "n1", "orders", withResult("ok", 7, "")),
		ev(events.BackupFailed, "n1", "orders", withResult("failed", 3, "disk full")),
	})
	must(chromedp.Do(ctx, chromedp.WaitNotPresent(`#history tbody tr[data-table="users"]`)))
	rows, err := chromedp.Run(ctx, chromedp.Poll[[]string](`(() => {
		const r = [...document.querySelectorAll('#history tbody tr')].map((r) => r.dataset.seq + ' ' + r.dataset.table + ' ' + r.dataset.type);
		return r.length === 2 ? r : null;
	})()`, chromedp.WithPollingTimeout(30*time.Second)))
	must(err)
	if rows[0] != "2 orders backup.failed" || rows[1] != "1 orders backup.completed" {
		t.Fatalf("history after the new stream: %v", rows)
	}
	cards, err := chromedp.Run(ctx, chromedp.Poll[[]string](`(() => {
		const c = [...document.querySelectorAll('#cards > *')].map((c) => c.dataset.table);
		return c.length === 1 && c[0] === 'orders' ? c : null;
	})()`, chromedp.WithPollingTimeout(30*time.Second)))
	must(err)
	if len(cards) != 1 {
		t.Fatalf("cards after the new stream: %v", cards)
	}
}
