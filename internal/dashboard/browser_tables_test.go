package dashboard

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
)

// cardOf is the selector of the full card of table on node.
func cardOf(node, table string) string {
	return fmt.Sprintf(`#detail article.card[data-table=%q][data-node=%q]`, table, node)
}

// rowOf is the selector of the list's row of table on node.
func rowOf(node, table string) string {
	return fmt.Sprintf(`#table-list tbody tr[data-table=%q][data-node=%q]`, table, node)
}

// openCard picks table on node in the list (it must be on the page) and
// waits for its full card; it returns the card's selector.
func openCard(t testing.TB, ctx context.Context, node, table string) string {
	t.Helper()
	card := cardOf(node, table)
	browserMust(t)(chromedp.Do(ctx, chromedp.WaitVisible(rowOf(node, table)), chromedp.Click(rowOf(node, table)), chromedp.WaitVisible(card)))
	return card
}

// publishAsync puts many events into the stream without waiting for each
// acknowledgement, then waits until the dashboard has applied them all.
func (e *env) publishAsync(evs []events.Event) {
	e.t.Helper()
	futures := make([]jetstream.PubAckFuture, 0, len(evs))
	for _, ev := range evs {
		b, err := ev.Marshal()
		if err != nil {
			e.t.Fatal(err)
		}
		f, err := e.js.PublishAsync(events.Subject(prefix, ev), b, jetstream.WithMsgID(ev.ID))
		if err != nil {
			e.t.Fatalf("publish %s: %v", ev.Type, err)
		}
		futures = append(futures, f)
	}
	var last uint64
	for _, f := range futures {
		select {
		case ack := <-f.Ok():
			last = max(last, ack.Sequence)
		case err := <-f.Err():
			e.t.Fatalf("publish: %v", err)
		case <-e.ctx.Done():
			e.t.Fatal(e.ctx.Err())
		}
	}
	e.waitSeq(last)
}

// TestBrowserTenThousandTables: a node with 10,000 tables. The page shows
// the counts by state (failures first) and a page of rows, worst state
// first; a search narrows the list; picking a row shows the table's full
// card; a table that degrades while the page is open goes to the top and
// into the counts; a node-wide compaction asks first, naming how many
// tables, and sends nothing when cancelled; the page stays under two
// screens tall.
func TestBrowserTenThousandTables(t *testing.T) {
	ctx := browser(t)
	e := setup(t, Config{})
	const n = 10000
	name := func(i int) string { return fmt.Sprintf("tenant-%05d", i) }
	evs := make([]events.Event, 0, n+3)
	for i := range n {
		evs = append(evs, ev(events.TableCreated, "n1", name(i)))
	}
	evs = append(evs,
		ev(events.TableDegraded, "n1", name(7777), withResult("failed", 0, "checksum mismatch in 000012.ldb")),
		ev(events.CompactionStarted, "n1", name(42)),
		ev(events.RestoreStarted, "n1", name(9000)),
	)
	e.publishAsync(evs)
	nodes := e.respondNode("n1")
	must := browserMust(t)
	eval := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		must(err)
		return v
	}
	counts := func() string {
		t.Helper()
		return eval(`[...document.querySelectorAll('#summary .count')].map((b) => b.dataset.state + '=' + b.dataset.count).join(' ')`)
	}
	rows := func() []string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#table-list tbody tr')].map((r) => r.dataset.table + ' ' + r.dataset.state)`))
		must(err)
		return v
	}
	// tallest is the page's height in screens at its tallest so far.
	var tallest float64
	measure := func(when string) {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.documentElement.scrollHeight / window.innerHeight`))
		must(err)
		t.Logf("page height %s: %.2f screens", when, v)
		tallest = max(tallest, v)
	}

	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	must(chromedp.Do(lctx, chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(rowOf("n1", name(7777)))))
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.custodian && window.custodian.ready`))
	must(err)
	if got := counts(); got != "degraded=1 writes_failing=0 disk_full=0 restoring=1 compacting=1 backing_up=0 verifying=0 ok=9997" {
		t.Fatalf("summary %q", got)
	}
	if got := eval(`document.querySelector('#table-total').textContent`); got != "10,000 tables on 1 node" {
		t.Fatalf("total %q", got)
	}
	first := rows()
	if len(first) != 20 || first[0] != name(7777)+" degraded" || first[1] != name(9000)+" restoring" || first[2] != name(42)+" compacting" || first[3] != name(0)+" ok" {
		t.Fatalf("first page: %d rows %v", len(first), first)
	}
	if got := eval(`document.querySelector('#tables-range').textContent`); got != "1–20 of 10,000" {
		t.Fatalf("range %q", got)
	}
	measure("at load")

	// A search narrows the list (and the counts).
	must(chromedp.Do(ctx, chromedp.SendKeys(`#table-filters input[name="q"]`, "tenant-0123")))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelectorAll('#table-list tbody tr').length === 10`))
	must(err)
	for i, r := range rows() {
		if want := name(1230+i) + " ok"; r != want {
			t.Fatalf("search row %d %q, want %q", i, r, want)
		}
	}
	if got := counts(); got != "degraded=0 writes_failing=0 disk_full=0 restoring=0 compacting=0 backing_up=0 verifying=0 ok=10" {
		t.Fatalf("summary of the search %q", got)
	}

	// Picking a row shows the full card with its buttons.
	card := openCard(t, ctx, "n1", name(1234))
	verbs := eval(`[...document.querySelectorAll('` + card + ` .actions button')].map((b) => b.dataset.verb).join(' ')`)
	if verbs != "compact backup verify drill restore" {
		t.Fatalf("card buttons %q", verbs)
	}
	if got := eval(`document.querySelectorAll('#detail article.card').length + ' ' + document.querySelector('` + rowOf("n1", name(1234)) + `').getAttribute('aria-selected')`); got != "1 true" {
		t.Fatalf("cards shown, row selected: %q", got)
	}
	measure("with a card open")

	// Live: a table of the list degrades; it goes first and is counted.
	e.publish(ev(events.TableDegraded, "n1", name(1235), withResult("failed", 0, "bad block")))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('#table-list tbody tr').dataset.table === '`+name(1235)+`'`))
	must(err)
	if got := counts(); !strings.HasPrefix(got, "degraded=1 ") || !strings.HasSuffix(got, " ok=9") {
		t.Fatalf("summary of the search after a degradation %q", got)
	}
	// Without the search: both degraded tables first, by name.
	must(chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`(() => { const q = document.querySelector('#table-filters input[name="q"]'); q.value = ''; q.dispatchEvent(new Event('input')); })()`)))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelectorAll('#table-list tbody tr').length === 20`))
	must(err)
	if got := counts(); got != "degraded=2 writes_failing=0 disk_full=0 restoring=1 compacting=1 backing_up=0 verifying=0 ok=9996" {
		t.Fatalf("summary %q", got)
	}
	if got := rows()[:2]; got[0] != name(1235)+" degraded" || got[1] != name(7777)+" degraded" {
		t.Fatalf("first rows %v", got)
	}
	// The state filter from the summary: the degraded tables only.
	must(chromedp.Do(ctx, chromedp.Click(`#summary .count[data-state="degraded"]`)))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelectorAll('#table-list tbody tr').length === 2`))
	must(err)
	must(chromedp.Do(ctx, chromedp.Click(`#summary .count[data-state="degraded"]`)))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelectorAll('#table-list tbody tr').length === 20`))
	must(err)

	// Node-wide compaction: the dialog names the number of tables; cancel
	// sends nothing, confirm sends one request for the node.
	if dis := eval(`String(document.querySelector('#node-actions button[data-node-verb="compact"]').disabled)`); dis != "true" {
		t.Fatalf("node-wide buttons enabled without a node chosen")
	}
	must(chromedp.Do(ctx, chromedp.SetValue(`#table-filters select[name="node"]`, "n1"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#table-filters select[name="node"]').dispatchEvent(new Event('change'))`),
		chromedp.WaitEnabled(`#node-actions button[data-node-verb="compact"]`),
		chromedp.Click(`#node-actions button[data-node-verb="compact"]`),
		chromedp.WaitVisible(`#node-dialog`)))
	if got := eval(`document.querySelector('#node-text').textContent`); got != "Compact all 10,000 tables of node n1?" {
		t.Fatalf("confirmation %q", got)
	}
	measure("with the confirmation open")
	must(chromedp.Do(ctx, chromedp.Click(`#node-cancel`), chromedp.WaitNotVisible(`#node-dialog`)))
	if got := nodes.got(); len(got) != 0 {
		t.Fatalf("a cancelled node-wide compaction was sent: %d requests", len(got))
	}
	must(chromedp.Do(ctx, chromedp.Click(`#node-actions button[data-node-verb="compact"]`), chromedp.WaitVisible(`#node-dialog`), chromedp.Click(`#node-confirm`)))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('#node-msg').textContent.includes('accepted')`))
	must(err)
	if got := nodes.got(); len(got) != 1 || got[0].Subject != "custodian.node.n1.compact" {
		t.Fatalf("node-wide compaction: %d requests", len(got))
	}
	if msg := eval(`document.querySelector('#node-msg').textContent`); msg != "compact on n1: 2 commands accepted" {
		t.Fatalf("node message %q", msg)
	}
	measure("at the end")
	if tallest >= 2 {
		t.Fatalf("the page is %.2f screens tall with 10,000 tables, want under 2", tallest)
	}

	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	must(err)
	path := filepath.Join(screenshotDir(t), "dashboard-10000.png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
