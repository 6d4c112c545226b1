package dashboard

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/custodian-dev/custodian/internal/events"
)

// The card shows the off-site state: the last off-site copy (time, bytes
// stored and reused) and the journal's off-site lag, highlighted over 1 s
// with the shipping error; an offsite.failed is on the card and a failed
// row of the history; a table without off-site copies shows none of it.
// A new table.stats moves the lag on the open page.
func TestBrowserOffsiteCard(t *testing.T) {
	ctx := browser(t)
	e := setup(t, Config{})
	copied := time.Date(2026, 11, 26, 9, 58, 30, 0, time.UTC)
	at := func(tm time.Time) func(*events.Event) { return func(e *events.Event) { e.Time = tm } }
	e.publish(
		ev(events.TableStats, "n1", "plain", withData("bytes", 1000, "records", 10)),
		ev(events.BackupCompleted, "n1", "users", withResult("ok", 80, ""), at(copied),
			withData("backup_id", "b-2", "bytes", 4000000, "records", 400, "offsite_bytes", 700*1024, "offsite_reused_bytes", 3*1024*1024)),
		ev(events.TableStats, "n1", "users", withData("bytes", 4000000, "records", 400, "journal_lag_ms", 300)),
		ev(events.TableStats, "n1", "orders", withData("bytes", 9000, "records", 90, "journal_lag_ms", 2500, "offsite_error", "nats: no responders available for request")),
		ev(events.BackupCompleted, "n1", "orders", withResult("ok", 40, ""), withData("backup_id", "o-9", "bytes", 9000, "records", 90)),
		ev(events.OffsiteFailed, "n1", "orders", withResult("failed", 3100, "table orders: off-site copy of backup o-9: nats: timeout"),
			withData("backup_id", "o-9", "reason", "nats: timeout", "tries", 3, "final", true)),
	)
	users := `article.card[data-table="users"][data-node="n1"]`
	orders := `article.card[data-table="orders"][data-node="n1"]`
	plain := `article.card[data-table="plain"][data-node="n1"]`
	must := browserMust(t)
	_, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "UTC"})
	must(err)
	must(chromedp.Do(ctx, chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(rowOf("n1", "orders"))))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`window.custodian && window.custodian.ready`))
	must(err)
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		must(err)
		return s
	}
	count := func(sel string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('`+sel+`').length`))
		must(err)
		return n
	}
	weight := func(sel string) string {
		t.Helper()
		w, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector('`+sel+`')).fontWeight`))
		must(err)
		return w
	}

	openCard(t, ctx, "n1", "users")
	if got, want := text(users+` dd.offsite-copy`), "2026-11-26 09:58:30 · 700.0 KB stored, 3.0 MB reused"; got != want {
		t.Errorf("users last off-site copy %q, want %q", got, want)
	}
	if got := text(users + ` dd.offsite-lag`); got != "off-site lag 0.3 s" {
		t.Errorf("users lag %q", got)
	}
	if count(users+` dd.offsite-lag.high`) != 0 || count(users+` dd.offsite-error`) != 0 || count(users+` dd.offsite-failed`) != 0 {
		t.Errorf("users card: a lag of 0.3 s is highlighted, or an error shown:\n%s", text(users))
	}
	openCard(t, ctx, "n1", "orders")
	must(chromedp.Do(ctx, chromedp.WaitVisible(orders+` dd.offsite-failed`)))
	if got := text(orders + ` dd.offsite-lag.high`); got != "off-site lag 2.5 s" {
		t.Errorf("orders lag %q, want it highlighted", got)
	}
	if w := weight(orders + ` dd.offsite-lag`); w != "600" {
		t.Errorf("the high lag's font weight is %s: the style does not highlight it", w)
	}
	if got := text(orders + ` dd.offsite-error`); got != "nats: no responders available for request" {
		t.Errorf("orders off-site error %q", got)
	}
	if got := text(orders + ` dd.offsite-failed`); !strings.Contains(got, "failed · 3.1 s") || !strings.Contains(got, "nats: timeout") || !strings.Contains(got, "backup o-9 is on this disk only") {
		t.Errorf("orders off-site failure %q", got)
	}
	if got := text(orders + ` dd.offsite-copy`); got != "no copy yet" {
		t.Errorf("orders last copy %q", got)
	}
	openCard(t, ctx, "n1", "plain")
	if n := count(plain + ` [class^="offsite"]`); n != 0 || strings.Contains(text(plain), "Off-site") {
		t.Errorf("a table without off-site copies shows %d off-site rows:\n%s", n, text(plain))
	}
	// The history: offsite.failed is a failure; the copy's figures are on
	// the backup.completed row.
	failedRow := `#history tbody tr[data-type="offsite.failed"][data-table="orders"]`
	must(chromedp.Do(ctx, chromedp.WaitVisible(failedRow)))
	if count(failedRow+`.result-failed`) != 1 || !strings.Contains(text(failedRow), "nats: timeout") {
		t.Errorf("offsite.failed row %q is no failure", text(failedRow))
	}
	if r := text(`#history tbody tr[data-type="backup.completed"][data-table="users"]`); !strings.Contains(r, "off-site 700.0 KB stored, 3.0 MB reused") {
		t.Errorf("backup.completed row %q", r)
	}

	// The lag goes over 1 s on the open page.
	openCard(t, ctx, "n1", "users")
	e.publish(ev(events.TableStats, "n1", "users", withData("bytes", 4000000, "records", 400, "journal_lag_ms", 1500)))
	must(chromedp.Do(ctx, chromedp.WaitVisible(users+` dd.offsite-lag.high`)))
	if got := text(users + ` dd.offsite-lag`); got != "off-site lag 1.5 s" {
		t.Errorf("users lag after the new stats %q", got)
	}

	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	must(err)
	path := filepath.Join(screenshotDir(t), "dashboard-offsite.png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
