package dashboard

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/custodian-dev/custodian/internal/events"
)

// TestBrowserShowsDiskFull: a table whose writes fail for lack of space is
// shown "disk full" with why and since when (not failed, not degraded), and
// back to ok, live, once a table.stats says its writes work again.
func TestBrowserShowsDiskFull(t *testing.T) {
	ctx := browser(t)
	e := setup(t, Config{})
	e.publish(
		ev(events.TableStats, "n1", "users", withData("bytes", 4096, "records", 40, "writes", "ok")),
		ev(events.TableStats, "n1", "users", withData("writes", "failing", "writes_code", "no_space",
			"writes_error", "write 000007.log: no space left on device", "writes_since", "2026-12-04T18:30:00Z")),
	)
	must := browserMust(t)
	must(chromedp.Do(ctx, chromedp.Navigate(e.url+"/"), chromedp.WaitVisible(rowOf("n1", "users")+`[data-state="disk_full"]`)))
	cardSel := openCard(t, ctx, "n1", "users")
	must(chromedp.Do(ctx, chromedp.WaitVisible(cardSel+`[data-state="disk_full"]`)))
	badge, err := chromedp.Run(ctx, chromedp.Text(cardSel+` .badge`))
	must(err)
	if badge != "disk full" {
		t.Fatalf("badge %q, want \"disk full\"", badge)
	}
	reason, err := chromedp.Run(ctx, chromedp.Text(cardSel+` .reason.writes`))
	must(err)
	for _, want := range []string{"disk full", "no space left on device", "2026-12-04T18:30:00Z", "reads go on"} {
		if !strings.Contains(reason, want) {
			t.Fatalf("card line %q lacks %q", reason, want)
		}
	}
	e.publish(ev(events.TableStats, "n1", "users", withData("writes", "ok")))
	must(chromedp.Do(ctx, chromedp.WaitVisible(cardSel+`[data-state="ok"]`)))
	gone, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('`+cardSel+` .reason.writes') === null`))
	must(err)
	if !gone {
		t.Fatalf("the disk-full line is still shown after the writes work again")
	}
}
