package dashboard

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/custodian-dev/custodian/internal/events"
)

// commandLoop runs in the page: for each command it POSTs compact the way
// the button does (no body), then waits for the command's outcome row to appear in
// the live history table. It returns, per command, the milliseconds to the
// POST's reply and to the row.
const commandLoop = `(async (n) => {
  const reply = [], row = [];
  const body = document.querySelector('#history tbody');
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await fetch('/api/tables/bench/compact', {method: 'POST', headers: {Accept: 'application/json'}});
    const id = (await r.json()).command_id;
    reply.push(performance.now() - t0);
    const sel = 'tr[data-command-id="' + id + '"][data-type="compaction.completed"]';
    if (!body.querySelector(sel)) {
      await new Promise((resolve) => {
        const mo = new MutationObserver(() => { if (body.querySelector(sel)) { mo.disconnect(); resolve(); } });
        mo.observe(body, {childList: true});
      });
    }
    row.push(performance.now() - t0);
  }
  return {reply, row};
})(%d)`

// BenchmarkBrowserCommandToRow is BenchmarkCommandToLiveRow as a user sees
// it: headless Chromium sends each command from the page and waits for its
// row in the page's live history (EventSource -> DOM). The baseline in the
// same run is the POST's own round trip (HTTP -> NATS request -> reply).
//
//	go test -run '^$' -bench BenchmarkBrowserCommandToRow -benchtime 1x ./internal/dashboard/
func BenchmarkBrowserCommandToRow(b *testing.B) {
	n := benchCommands(b)
	ctx := browser(b)
	e := setup(b, Config{})
	e.publish(ev(events.TableCreated, "n1", "bench"))
	e.respond("bench", events.VerbCompact)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(e.url+"/"),
		chromedp.WaitVisible(`article.card[data-table="bench"]`),
	); err != nil {
		b.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.custodian.ready`)); err != nil {
		b.Fatal(err)
	}
	type result struct {
		Reply []float64 `json:"reply"`
		Row   []float64 `json:"row"`
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[result](fmt.Sprintf(commandLoop, 20), chromedp.EvalAwaitPromise)); err != nil {
		b.Fatalf("warm up: %v", err)
	}
	b.ResetTimer()
	var reply, row []time.Duration
	for i := 0; i < b.N; i++ {
		res, err := chromedp.Run(ctx, chromedp.Evaluate[result](fmt.Sprintf(commandLoop, n), chromedp.EvalAwaitPromise))
		if err != nil {
			b.Fatal(err)
		}
		for j := range res.Row {
			reply = append(reply, time.Duration(res.Reply[j]*float64(time.Millisecond)))
			row = append(row, time.Duration(res.Row[j]*float64(time.Millisecond)))
		}
	}
	b.StopTimer()
	if len(row) != n*b.N {
		b.Fatalf("%d rows for %d commands", len(row), n*b.N)
	}
	p50, p99 := percentile(row, 0.50), percentile(row, 0.99)
	r50, r99 := percentile(reply, 0.50), percentile(reply, 0.99)
	b.ReportMetric(float64(p50.Microseconds())/1000, "row_p50_ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "row_p99_ms")
	b.ReportMetric(float64(r50.Microseconds())/1000, "reply_p50_ms")
	b.ReportMetric(float64(r99.Microseconds())/1000, "reply_p99_ms")
	b.ReportMetric(float64(p50)/float64(r50), "p50_ratio")
	b.Logf("%d commands from the page: row in live history p50 %v p99 %v; POST reply p50 %v p99 %v", len(row), p50, p99, r50, r99)
}
