package dashboard

import (
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/fetch"
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
	// The history shows the new stream's two rows and nothing else, the
	// table list the new stream's one table.
	rows := func() []string {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#history tbody tr')].map((r) => r.dataset.seq + ' ' + r.dataset.table + ' ' + r.dataset.type)`))
		must(err)
		return v
	}
	cards := func() []string {
		v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#table-list tbody tr')].map((c) => c.dataset.table)`))
		must(err)
		return v
	}
	want := []string{"2 orders backup.failed", "1 orders backup.completed"}
	deadline := time.Now().Add(60 * time.Second)
	for !slices.Equal(rows(), want) || !slices.Equal(cards(), []string{"orders"}) {
		if time.Now().After(deadline) {
			t.Fatalf("after the new stream the page shows rows %q and cards %q, want rows %q and the row of orders", rows(), cards(), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A history load answered before some live rows arrived must not drop them
// when it replaces the table: the browser holds the /api/history answer
// (Fetch interception at the response stage) while two events arrive live,
// then lets it through.
func TestBrowserKeepsLiveRowsThatBeatTheHistory(t *testing.T) {
	ctx := browser(t)
	e := setup(t, Config{})
	for i := 0; i < 3; i++ {
		e.publish(ev(events.BackupCompleted, "n1", "users", withResult("ok", int64(i+1), "")))
	}
	must := browserMust(t)
	must(chromedp.Do(ctx, chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(`#history tbody tr[data-seq="3"]`)))
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.custodian && window.custodian.ready`))
	must(err)

	paused := make(chan fetch.RequestID, 4)
	must(chromedp.Listen(ctx, func(ev any) {
		if p, ok := ev.(*fetch.EventRequestPaused); ok {
			paused <- p.RequestID
		}
	}))
	_, err = chromedp.Call(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/api/history*", RequestStage: fetch.RequestStageResponse}}})
	must(err)
	// Reload the history (the filter form's submit); its answer, rows 1-3,
	// is held in the browser.
	must(chromedp.Do(ctx, chromedp.Click(`#filters button[type="submit"]`)))
	var held fetch.RequestID
	select {
	case held = <-paused:
	case <-time.After(30 * time.Second):
		t.Fatal("the history request was not intercepted")
	}
	e.publish(ev(events.CompactionCompleted, "n1", "users", withResult("ok", 4, "")), ev(events.CompactionFailed, "n1", "users", withResult("failed", 5, "disk full")))
	must(chromedp.Do(ctx, chromedp.WaitVisible(`#history tbody tr[data-seq="5"]`)))
	// Mark the rows shown now, let the old answer through, and wait for the
	// table to be replaced (no marked row left).
	_, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`(document.querySelectorAll('#history tbody tr').forEach((r) => r.dataset.before = '1'), true)`))
	must(err)
	_, err = chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: held})
	must(err)
	must(chromedp.Do(ctx, chromedp.WaitNotPresent(`#history tbody tr[data-before]`)))
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#history tbody tr')].map((r) => r.dataset.seq)`))
	must(err)
	if want := []string{"5", "4", "3", "2", "1"}; !slices.Equal(got, want) {
		t.Fatalf("after the held history answer the page shows rows %v, want %v", got, want)
	}
}
