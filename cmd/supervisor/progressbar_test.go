package main

import (
	"bytes"
	"testing"

	"github.com/custodian-dev/custodian/internal/events"
)

func progressEvent(done, total float64, unit string, queue float64) events.Event {
	e := events.New(events.TableStats, "n1", "users")
	e.Data = map[string]any{"running": "backup", "progress_done": done, "progress_total": total, "progress_unit": unit, "queue": queue}
	return e
}

func TestProgressBar(t *testing.T) {
	var lines bytes.Buffer
	b := &progressBar{w: &lines, verb: "backup"}
	plain := events.New(events.TableStats, "n1", "users")
	plain.Data = map[string]any{"bytes": float64(10)}
	for _, e := range []events.Event{plain, progressEvent(25, 100, "records", 0), progressEvent(7, 0, "bytes", 2)} {
		if err := b.show(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.end(); err != nil {
		t.Fatal(err)
	}
	behind := progressEvent(1, 4, "records", 1)
	behind.Data["running"] = "compact"
	if err := b.show(behind); err != nil {
		t.Fatal(err)
	}
	want := "users backup [#######                       ]  25% 25/100 records\nusers backup: 7/0 bytes (2 queued)\n" +
		"users: waiting behind compact [#######                       ]  25% 1/4 records (1 queued)\n"
	if lines.String() != want {
		t.Errorf("lines:\n%q\nwant\n%q", lines.String(), want)
	}

	var term bytes.Buffer
	b = &progressBar{w: &term, tty: true}
	for _, e := range []events.Event{progressEvent(50, 100, "records", 0), progressEvent(100, 100, "records", 0)} {
		if err := b.show(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.end(); err != nil {
		t.Fatal(err)
	}
	want = "\r\033[Kusers backup [###############               ]  50% 50/100 records" +
		"\r\033[Kusers backup [##############################] 100% 100/100 records\n"
	if term.String() != want {
		t.Errorf("terminal:\n%q\nwant\n%q", term.String(), want)
	}
}
