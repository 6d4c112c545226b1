package dashboard

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/custodian-dev/custodian/internal/events"
)

const chromiumPath = "/usr/bin/chromium"

// browser starts Debian's headless Chromium with a fresh profile. Without
// /usr/bin/chromium the test is skipped, except in CI where it must run.
func browser(t testing.TB) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("%s not installed (apt-get install chromium); CI unset", chromiumPath)
		}
		t.Fatalf("CI needs %s: %v", chromiumPath, err)
	}
	// Chromium now and then dies at start on a loaded machine (seen once in
	// a full -race run: crashpad, no page): starting the browser is not what
	// these tests test, so a start is tried three times, each with a fresh
	// profile.
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var ctx context.Context
		if ctx, err = startBrowser(t); err == nil {
			return ctx
		}
		t.Logf("start chromium, attempt %d: %v", attempt, err)
	}
	t.Fatalf("start chromium: %v", err)
	return nil
}

// browserMust returns a check that fails t on a browser error.
func browserMust(t testing.TB) func(error) {
	return func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("browser: %v", err)
		}
	}
}

func startBrowser(t testing.TB) (context.Context, error) {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1100),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	// The first run starts the browser and must not carry a timeout.
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		bcancel()
		acancel()
		return nil, err
	}
	tctx, tcancel := context.WithTimeout(bctx, 90*time.Second)
	t.Cleanup(func() { tcancel(); bcancel(); acancel() })
	return tctx, nil
}

func screenshotDir(t testing.TB) string {
	if d := os.Getenv("CUSTODIAN_SCREENSHOT_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func TestBrowserCompactShowsLiveRow(t *testing.T) {
	ctx := browser(t)
	e := setup(t, Config{AdminToken: "browser-token"})
	now := time.Now().UTC()
	var seed []events.Event
	for i := 0; i < 24; i++ {
		s := ev(events.TableStats, "n1", "users", withData("bytes", 40000+i*3000-(i/8)*20000, "records", 400+i*10, "dead_records", i*5, "dead_ratio", float64(i)/100))
		s.Time = now.Add(time.Duration(i-24) * 5 * time.Minute)
		seed = append(seed, s)
	}
	seed = append(seed,
		ev(events.BackupCompleted, "n1", "users", withResult("ok", 420, ""), withData("backup_id", "20261126T100000Z", "records", 600, "bytes", 52000)),
		ev(events.TableStats, "n1", "orders", withData("bytes", 9000, "records", 90)),
		ev(events.CorruptionDetected, "n1", "orders", withResult("failed", 0, "checksum mismatch in 000012.ldb")),
		ev(events.CompactionStarted, "n2", "users"),
	)
	e.publish(seed...)
	compact := e.respond("users", events.VerbCompact)
	restore := e.respond("users", events.VerbRestore)

	var dialogs []string
	var dmu sync.Mutex
	opening := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for d, err := range opening {
			if err != nil {
				return
			}
			dmu.Lock()
			dialogs = append(dialogs, d.Message)
			dmu.Unlock()
			// The page has no JavaScript dialog (restore asks in its own
			// dialog element): say no to any.
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()

	cardSel := `article.card[data-table="users"][data-node="n1"]`
	rowSel := `#history tbody tr[data-type="compaction.completed"][data-table="users"]`
	must := browserMust(t)
	// Log in with the admin token through the page's form.
	must(chromedp.Do(ctx,
		chromedp.Navigate(e.url+"/"),
		chromedp.WaitVisible(`#login input[name="token"]`),
		chromedp.SendKeys(`#login input[name="token"]`, "browser-token"),
		chromedp.Submit(`#login`),
		chromedp.WaitVisible(`#logout button`),
	))
	openCard(t, ctx, "n1", "users") // the full card shows on selection
	must(chromedp.Do(ctx, chromedp.WaitVisible(cardSel+` button[data-verb="compact"]:not([disabled])`)))
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.custodian && window.custodian.ready`))
	must(err)
	pageID, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.custodian.pageId`))
	must(err)
	orders, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#table-list tbody tr.state-degraded[data-table="orders"]').length`))
	must(err)
	before, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+rowSel+`').length`))
	must(err)

	must(chromedp.Do(ctx, chromedp.Click(cardSel+` button[data-verb="compact"]`), chromedp.WaitVisible(rowSel)))
	rowCmd, err := chromedp.Run(ctx, chromedp.AttributeValue(rowSel, "data-command-id"))
	must(err)
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('`+cardSel+` .msg').textContent.includes('command')`))
	must(err)
	msg, err := chromedp.Run(ctx, chromedp.Text(cardSel+` .msg`))
	must(err)
	pageIDAfter, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.custodian.pageId`))
	must(err)

	// Restore asks first, in its dialog; the test says no, and nothing is
	// sent.
	must(chromedp.Do(ctx, chromedp.Click(cardSel+` button[data-verb="restore"]`), chromedp.WaitVisible(`#restore-dialog`)))
	restoreText, err := chromedp.Run(ctx, chromedp.Text(`#restore-text`))
	must(err)
	must(chromedp.Do(ctx, chromedp.Click(`#restore-cancel`), chromedp.WaitNotVisible(`#restore-dialog`), chromedp.Sleep(300*time.Millisecond)))
	restoreMsg, err := chromedp.Run(ctx, chromedp.Text(cardSel+` .msg`))
	must(err)
	compactionsBefore := before

	_, ids := compact.requests()
	if len(ids) != 1 {
		t.Fatalf("responder got %d compact requests", len(ids))
	}
	if compactionsBefore != 0 || rowCmd.Value != ids[0] {
		t.Fatalf("history row command %q, responder made %q (rows before: %d)", rowCmd.Value, ids[0], compactionsBefore)
	}
	if !strings.Contains(msg, ids[0]) {
		t.Fatalf("card message %q lacks the command id %s", msg, ids[0])
	}
	if pageID == "" || pageID != pageIDAfter {
		t.Fatalf("the page reloaded: %q -> %q", pageID, pageIDAfter)
	}
	if orders != 1 {
		t.Fatalf("%d degraded rows for orders", orders)
	}
	dmu.Lock()
	nd := len(dialogs)
	dmu.Unlock()
	if nd != 0 || !strings.Contains(restoreText, `"users"`) {
		t.Fatalf("restore dialog %q, JavaScript dialogs: %v", restoreText, dialogs)
	}
	if got, _ := restore.requests(); len(got) != 0 || strings.Contains(restoreMsg, "restore") {
		t.Fatalf("a cancelled restore was sent (%d requests, message %q)", len(got), restoreMsg)
	}

	// Wait for the card refresh the live events trigger, then save a
	// screenshot for a human to look at.
	must(chromedp.Do(ctx, chromedp.WaitVisible(cardSel+`.state-ok`), chromedp.Sleep(500*time.Millisecond)))
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	must(err)
	path := filepath.Join(screenshotDir(t), "dashboard.png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

func TestBrowserHistoryFiltersAndPaging(t *testing.T) {
	ctx := browser(t)
	e := setup(t, Config{})
	var evs []events.Event
	for i := 0; i < 120; i++ {
		table := []string{"users", "orders", "audit"}[i%3]
		if i%2 == 0 {
			evs = append(evs, ev(events.CompactionCompleted, "n1", table, withResult("ok", int64(i), "")))
		} else {
			evs = append(evs, ev(events.BackupFailed, "n1", table, withResult("failed", 1, fmt.Sprintf("disk full %d", i))))
		}
	}
	e.publish(evs...)
	must := browserMust(t)
	seqs := func() []int {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[...document.querySelectorAll('#history tbody tr')].map((r) => Number(r.dataset.seq))`))
		must(err)
		return v
	}
	must(chromedp.Do(ctx, chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(`#history tbody tr[data-seq="120"]`)))
	first := seqs()
	if len(first) != 50 || first[0] != 120 || first[49] != 71 {
		t.Fatalf("first page: %d rows %v", len(first), first)
	}
	must(chromedp.Do(ctx, chromedp.Click(`#older`), chromedp.WaitVisible(`#history tbody tr[data-seq="70"]`)))
	second := seqs()
	if len(second) != 50 || second[0] != 70 || second[49] != 21 {
		t.Fatalf("second page: %v", second)
	}
	// Filter: failed backups of orders only.
	must(chromedp.Do(ctx,
		chromedp.Click(`#newest`),
		chromedp.WaitVisible(`#history tbody tr[data-seq="120"]`),
		chromedp.SendKeys(`#filters input[name="table"]`, "orders"),
		chromedp.SetValue(`#filters select[name="result"]`, "failed"),
		chromedp.Click(`#filters button[type="submit"]`),
		chromedp.WaitNotPresent(`#history tbody tr[data-table="users"]`),
		chromedp.WaitVisible(`#history tbody tr[data-table="orders"]`),
	))
	filtered, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#history tbody tr')].map((r) => r.dataset.table + ' ' + r.dataset.type)`))
	must(err)
	if len(filtered) != 20 {
		t.Fatalf("filtered rows: %d %v", len(filtered), filtered)
	}
	for _, r := range filtered {
		if r != "orders backup.failed" {
			t.Fatalf("filtered row %q", r)
		}
	}
	// The filter is in the address: a reload keeps it.
	loc, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.search`))
	must(err)
	if loc != "?table=orders&result=failed" {
		t.Fatalf("address %q", loc)
	}
	must(chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(`#history tbody tr[data-table="orders"]`)))
	again, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#history tbody tr:not([data-type="backup.failed"])').length + (document.querySelector('#filters select[name="result"]').value === 'failed' ? 0 : 1000)`))
	must(err)
	if again != 0 {
		t.Fatalf("after a reload the filter is gone (%d)", again)
	}
	// A live event that matches the filter shows up; one that does not, not.
	e.publish(ev(events.BackupFailed, "n1", "users", withResult("failed", 1, "x")), ev(events.BackupFailed, "n1", "orders", withResult("failed", 1, "y")))
	must(chromedp.Do(ctx, chromedp.WaitVisible(`#history tbody tr[data-seq="122"]`)))
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#history tbody tr[data-seq="121"]').length`)); err != nil || n != 0 {
		t.Fatalf("a users row passed the orders filter: %d %v", n, err)
	}
}

// TestBrowserStatsHiddenByDefault: table.stats rows (one per table each
// minute) stay out of the history, both the rows loaded from the API and
// the rows arriving live; the type filter table.stats shows them (from
// CUSTODIAN_STATS).
func TestBrowserStatsHiddenByDefault(t *testing.T) {
	ctx := browser(t)
	e := setup(t, Config{})
	var seed []events.Event
	for i := 0; i < 30; i++ {
		table := []string{"users", "orders"}[i%2]
		seed = append(seed, ev(events.TableStats, "n1", table, withData("bytes", 1000+i*100, "records", i)))
		if i%10 == 9 {
			seed = append(seed, ev(events.CompactionCompleted, "n1", table, withResult("ok", 40, ""), withData("bytes_before", 4000, "bytes_after", 3000)))
		}
	}
	seed = append(seed, ev(events.BackupFailed, "n1", "orders", withResult("failed", 3, "disk full")))
	last := e.publish(seed...) // 4 events (3 compactions, 1 failed backup) and 30 stats
	must := browserMust(t)
	types := func() []string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#history tbody tr')].map((r) => r.dataset.type)`))
		must(err)
		return v
	}
	count := func(typ string) int {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#history tbody tr[data-type="`+typ+`"]').length`))
		must(err)
		return v
	}
	row := func(seq uint64) string { return fmt.Sprintf(`#history tbody tr[data-seq="%d"]`, seq) }

	must(chromedp.Do(ctx, chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(row(last))))
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.custodian && window.custodian.ready`))
	must(err)
	if got := types(); len(got) != 4 || count(events.TableStats) != 0 {
		t.Fatalf("default history: %v", got)
	}
	if box, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#filters input[name="stats"]') !== null`)); err != nil || box {
		t.Fatalf("a show-stats box that shows nothing (the stats are asked for by type) (%v)", err)
	}

	// Live: a stats event, then a compaction. The stream is in order, so
	// once the compaction's row is there the stats row had its chance.
	e.publish(ev(events.TableStats, "n1", "users", withData("bytes", 9999, "records", 99)))
	liveCompact := e.publish(ev(events.CompactionCompleted, "n1", "users", withResult("ok", 12, "")))
	must(chromedp.Do(ctx, chromedp.WaitVisible(row(liveCompact))))
	if n := count(events.TableStats); n != 0 {
		t.Fatalf("a live table.stats row appeared with stats hidden (%d rows)", n)
	}

	// The table.stats are in CUSTODIAN_STATS, not in the audit history:
	// asking for the type table.stats shows them (newest first, with that
	// stream's sequences), and live ones arrive there too.
	must(chromedp.Do(ctx,
		chromedp.SendKeys(`#filters input[name="type"]`, "table.stats"),
		chromedp.Click(`#filters button[type="submit"]`),
		chromedp.WaitVisible(`#history tbody tr[data-type="table.stats"][data-seq="31"]`),
	))
	if got := types(); len(got) != 31 || count(events.TableStats) != 31 {
		t.Fatalf("type=table.stats: %d rows %v", len(got), got)
	}
	e.publish(ev(events.TableStats, "n1", "orders", withData("bytes", 7777)))
	must(chromedp.Do(ctx, chromedp.WaitVisible(`#history tbody tr[data-type="table.stats"][data-seq="32"]`)))
}
