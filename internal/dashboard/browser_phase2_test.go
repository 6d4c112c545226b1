package dashboard

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/custodian-dev/custodian/internal/events"
)

// The card shows a critical badge, the last drill and "recoverable to",
// and a restore that lost writes; the restore dialog's time field sends
// "at" (the browser's local time as RFC 3339 UTC), an empty one sends no
// body; the drill button sends a drill.
func TestBrowserRestoreAtDrillAndCriticalCard(t *testing.T) {
	ctx := browser(t)
	e := setup(t, Config{})
	recovered := time.Date(2026, 11, 26, 9, 58, 30, 0, time.UTC)
	e.publish(
		ev(events.TableStats, "n1", "users", withData("bytes", 40000, "records", 400, "critical", true)),
		ev(events.TableStats, "n1", "orders", withData("bytes", 9000, "records", 90)),
		ev(events.DrillCompleted, "n1", "users", withResult("ok", 1500, ""),
			withData("backup_id", "b-7", "journal_records", 42, "records", 400, "digest", "ab", "recovered_to", recovered.Format(time.RFC3339Nano))),
		ev(events.RestoreCompleted, "n1", "orders", withResult("ok", 900, ""),
			withData("backup_id", "b-3", "records", 90, "journal_records", 11, "lost", true,
				"lost_reason", "journal/orders/000004.jnl: checksum mismatch at offset 8192", "recovered_to", recovered.Format(time.RFC3339Nano))),
		ev(events.DrillFailed, "n1", "orders", withResult("failed", 700, "backup b-3: digest mismatch"), withData("reason", "digest mismatch", "final", true)),
	)
	restore := e.respond("users", events.VerbRestore)
	drill := e.respond("users", events.VerbDrill)

	users := `article.card[data-table="users"][data-node="n1"]`
	orders := `article.card[data-table="orders"][data-node="n1"]`
	must := browserMust(t)
	// The browser's local time is Berlin's: 10:15:30 there is 09:15:30 UTC.
	_, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/Berlin"})
	must(err)
	must(chromedp.Do(ctx, chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(rowOf("n1", "users"))))
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
	// The list marks the critical table; each card says it (or not).
	if count(rowOf("n1", "users")+` .badge.critical`) != 1 || count(rowOf("n1", "orders")+` .badge.critical`) != 0 {
		t.Fatalf("critical badges in the list: users %d, orders %d", count(rowOf("n1", "users")+` .badge.critical`), count(rowOf("n1", "orders")+` .badge.critical`))
	}
	openCard(t, ctx, "n1", "orders")
	if n := count(orders + ` .badge.critical`); n != 0 {
		t.Fatalf("critical badges: orders %d", n)
	}
	orderCard := text(orders)
	openCard(t, ctx, "n1", "users")
	must(chromedp.Do(ctx, chromedp.WaitVisible(users+` button[data-verb="drill"]`)))
	if n := count(users + ` .badge.critical`); n != 1 {
		t.Fatalf("critical badges: users %d", n)
	}
	userCard := text(users)
	// Berlin is UTC+1 in November: the card shows local times.
	for _, want := range []string{"critical", "Drill", "ok · 1.5 s · 42 journal writes", "Recoverable to", "2026-11-26 10:58:30"} {
		if !strings.Contains(userCard, want) {
			t.Errorf("users card lacks %q:\n%s", want, userCard)
		}
	}
	for _, want := range []string{"LOST acknowledged writes", "journal/orders/000004.jnl: checksum mismatch at offset 8192", "recovered to 2026-11-26 10:58:30", "failed · 700 ms", "digest mismatch"} {
		if !strings.Contains(orderCard, want) {
			t.Errorf("orders card lacks %q:\n%s", want, orderCard)
		}
	}
	if strings.Contains(orderCard, "Recoverable to") {
		t.Errorf("orders card shows recoverable to without a completed drill:\n%s", orderCard)
	}
	// The history lists drills like the other work.
	row := `#history tbody tr[data-type="drill.failed"][data-table="orders"]`
	must(chromedp.Do(ctx, chromedp.WaitVisible(row)))
	if r := text(row); !strings.Contains(r, "failed") || !strings.Contains(r, "700 ms") {
		t.Errorf("drill.failed row %q", r)
	}

	// Restore to a time: the field's local time goes out as RFC 3339 UTC.
	must(chromedp.Do(ctx,
		chromedp.Click(users+` button[data-verb="restore"]`),
		chromedp.WaitVisible(`#restore-dialog input[name="at"]`),
	))
	if tz := text(`#restore-tz`); tz != "UTC+01:00" {
		t.Errorf("the dialog names the time zone %q", tz)
	}
	must(chromedp.Do(ctx,
		chromedp.SetValue(`#restore-dialog input[name="at"]`, "2026-11-26T10:15:30"),
		chromedp.Click(`#restore-confirm`),
		chromedp.WaitNotVisible(`#restore-dialog`),
	))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('`+users+` .msg').textContent.includes('accepted')`))
	must(err)
	msgs, ids := restore.requests()
	if len(msgs) != 1 {
		t.Fatalf("restore requests: %d", len(msgs))
	}
	var body map[string]any
	if err := json.Unmarshal(msgs[0].Data, &body); err != nil || body["at"] != "2026-11-26T09:15:30.000Z" || len(body) != 1 {
		t.Fatalf("restore body %q (%v), want {\"at\":\"2026-11-26T09:15:30.000Z\"}", msgs[0].Data, err)
	}
	if m := text(users + ` .msg`); !strings.Contains(m, ids[0]) || !strings.Contains(m, "restore to 2026-11-26 10:15:30") {
		t.Errorf("card message %q", m)
	}

	// A half-typed time (month and day, no year) is refused in the dialog:
	// its empty value must not mean "the latest state".
	must(chromedp.Do(ctx,
		chromedp.Click(users+` button[data-verb="restore"]`),
		chromedp.WaitVisible(`#restore-dialog input[name="at"]`),
		chromedp.Click(`#restore-dialog input[name="at"]`),
		chromedp.SendKeys(`#restore-dialog input[name="at"]`, "1126"),
	))
	bad, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#restore-dialog input[name="at"]').validity.badInput`))
	must(err)
	if !bad {
		t.Fatal("the half-typed time is no bad input: the test does not test the refusal")
	}
	must(chromedp.Do(ctx, chromedp.Click(`#restore-confirm`), chromedp.WaitVisible(`#restore-error`)))
	if open, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('#restore-dialog').open`)); err != nil || !open {
		t.Fatalf("the dialog closed on a half-typed time (%v)", err)
	}
	must(chromedp.Do(ctx, chromedp.Click(`#restore-cancel`), chromedp.WaitNotVisible(`#restore-dialog`)))
	if msgs, _ := restore.requests(); len(msgs) != 1 {
		t.Fatalf("a half-typed or cancelled restore was sent: %d requests", len(msgs))
	}

	// Restore with the field empty: the latest state, no body. The field
	// is empty again when the dialog opens anew.
	must(chromedp.Do(ctx,
		chromedp.Click(users+` button[data-verb="restore"]`),
		chromedp.WaitVisible(`#restore-dialog input[name="at"]`),
	))
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#restore-dialog input[name="at"]').value`)); err != nil || v != "" {
		t.Fatalf("the time field kept %q (%v)", v, err)
	}
	must(chromedp.Do(ctx, chromedp.Click(`#restore-confirm`), chromedp.WaitNotVisible(`#restore-dialog`)))
	for {
		if msgs, _ = restore.requests(); len(msgs) == 2 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the second restore was not sent: %d requests", len(msgs))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(msgs[1].Data) != 0 {
		t.Fatalf("a restore to the latest state sent %q", msgs[1].Data)
	}

	// The drill button.
	must(chromedp.Do(ctx, chromedp.Click(users+` button[data-verb="drill"]`)))
	_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('`+users+` .msg').textContent.includes('drill accepted')`))
	must(err)
	if msgs, _ := drill.requests(); len(msgs) != 1 || msgs[0].Subject != "custodian.cmd.users.drill" {
		t.Fatalf("drill requests: %d", len(msgs))
	}

	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	must(err)
	path := filepath.Join(screenshotDir(t), "dashboard-drill.png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// The dialog's close event is a queued task: a Restore click can open the
// dialog anew before the close event of the earlier opening (a busy page
// runs input first). That late event must not answer the new opening: the
// confirm that follows sends its restore. Both ways of closing: the
// Cancel button (the form) and a close without the form (as Esc does).
func TestBrowserRestoreReopenBeforeCloseEvent(t *testing.T) {
	ctx := browser(t)
	e := setup(t, Config{})
	e.publish(ev(events.TableStats, "n1", "users", withData("bytes", 40000, "records", 400)))
	restore := e.respond("users", events.VerbRestore)
	users := `article.card[data-table="users"][data-node="n1"]`
	must := browserMust(t)
	must(chromedp.Do(ctx, chromedp.Navigate(e.url+"/")))
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](`window.custodian && window.custodian.ready`))
	must(err)
	openCard(t, ctx, "n1", "users")
	must(chromedp.Do(ctx, chromedp.WaitVisible(users+` button[data-verb="restore"]`)))

	for i, closeIt := range []string{
		`document.querySelector('#restore-cancel').click()`,
		`d.close()`,
	} {
		// Open, close, open again in one task: the first close event comes
		// after the second opening. Then confirm with the field empty.
		open, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise((resolve) => {
			const d = document.querySelector('#restore-dialog');
			const b = document.querySelector('`+users+` button[data-verb="restore"]');
			let late = false;
			d.addEventListener('close', () => { late = d.open; }, { once: true });
			b.click();
			`+closeIt+`;
			b.click();
			setTimeout(() => resolve(late && d.open), 50);
		})`, chromedp.EvalAwaitPromise))
		must(err)
		if !open {
			t.Fatalf("%s: no close event came with the dialog open again: the test does not test the late event", closeIt)
		}
		msg := `document.querySelector('` + users + ` .msg').textContent`
		before, err := chromedp.Run(ctx, chromedp.Evaluate[string](msg))
		must(err)
		quoted, _ := json.Marshal(before)
		must(chromedp.Do(ctx, chromedp.Click(`#restore-confirm`), chromedp.WaitNotVisible(`#restore-dialog`)))
		// The card says the restore was accepted: a new command id.
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		after, err := chromedp.Run(wctx, chromedp.Poll[string](`(() => { const m = `+msg+`; return m !== `+string(quoted)+` && m.includes('restore accepted') ? m : ''; })()`))
		cancel()
		msgs, ids := restore.requests()
		if err != nil {
			t.Fatalf("%s: the confirmed restore was not sent (%v): %d requests", closeIt, err, len(msgs))
		}
		if len(msgs) != i+1 || len(msgs[i].Data) != 0 || !strings.Contains(after, ids[i]) {
			t.Fatalf("%s: %d requests (want %d, no body), card message %q", closeIt, len(msgs), i+1, after)
		}
	}
}
