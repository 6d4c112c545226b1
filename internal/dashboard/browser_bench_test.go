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

// bareLoop is the baseline: the same commands from a page without the
// dashboard's script (GET /healthz), each waiting for its outcome on a bare
// EventSource, no DOM work. row holds the time to the event.
const bareLoop = `(async (n) => {
  const reply = [], row = [];
  const seen = new Map();
  const es = new EventSource('/api/stream?table=bench&type=compaction.completed');
  await new Promise((resolve) => { es.onopen = resolve; });
  es.onmessage = (m) => {
    const id = JSON.parse(m.data).command_id;
    const w = seen.get(id);
    if (typeof w === 'function') w(); else seen.set(id, true);
  };
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await fetch('/api/tables/bench/compact', {method: 'POST', headers: {Accept: 'application/json'}});
    const id = (await r.json()).command_id;
    reply.push(performance.now() - t0);
    if (!seen.has(id)) await new Promise((resolve) => seen.set(id, resolve));
    row.push(performance.now() - t0);
  }
  es.close();
  return {reply, row};
})(%d)`

// BenchmarkBrowserCommandToRow is BenchmarkCommandToLiveRow as a user sees
// it: headless Chromium sends each command from the page and waits for its
// row in the page's live history (EventSource -> DOM). The baseline in the
// same run is bareLoop: the same commands and events in the same browser
// without the page's rendering.
//
//	go test -run '^$' -bench BenchmarkBrowserCommandToRow -benchtime 1x ./internal/dashboard/
func BenchmarkBrowserCommandToRow(b *testing.B) {
	n := benchCommands(b)
	ctx := browser(b)
	e := setup(b, Config{})
	e.publish(ev(events.TableCreated, "n1", "bench"))
	e.respond("bench", events.VerbCompact)
	type result struct {
		Reply []float64 `json:"reply"`
		Row   []float64 `json:"row"`
	}
	run := func(page, loop string, count int) result {
		if err := chromedp.Do(ctx, chromedp.Navigate(e.url+page)); err != nil {
			b.Fatal(err)
		}
		if page == "/" {
			// The table's card open, as a user sending commands has it.
			if err := chromedp.Do(ctx, chromedp.WaitVisible(rowOf("n1", "bench")), chromedp.Click(rowOf("n1", "bench")), chromedp.WaitVisible(cardOf("n1", "bench"))); err != nil {
				b.Fatal(err)
			}
			if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.custodian.ready`)); err != nil {
				b.Fatal(err)
			}
		}
		res, err := chromedp.Run(ctx, chromedp.Evaluate[result](fmt.Sprintf(loop, count), chromedp.EvalAwaitPromise))
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Row) != count {
			b.Fatalf("%d rows for %d commands", len(res.Row), count)
		}
		return res
	}
	toDurations := func(ms []float64) []time.Duration {
		out := make([]time.Duration, len(ms))
		for i, v := range ms {
			out[i] = time.Duration(v * float64(time.Millisecond))
		}
		return out
	}
	run("/", commandLoop, 20) // warm up
	run("/healthz", bareLoop, 20)
	b.ResetTimer()
	var row, bare []time.Duration
	for i := 0; i < b.N; i++ {
		row = append(row, toDurations(run("/", commandLoop, n).Row)...)
		bare = append(bare, toDurations(run("/healthz", bareLoop, n).Row)...)
	}
	b.StopTimer()
	p50, p99, r50, r99 := reportPercentiles(b, row, "row_", bare, "bare_")
	b.Logf("%d commands from the page: row in live history p50 %v p99 %v; bare EventSource without the page p50 %v p99 %v", len(row), p50, p99, r50, r99)
}
