package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

// bodyCatcher answers <prefix>.cmd.<table>.<verb> on a real nats-server as
// a supervisor would at the end of the command (the outcome event in the
// reply), and keeps the request bodies it got.
type bodyCatcher struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (c *bodyCatcher) got() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.bodies...)
}

func catchBodies(t *testing.T, nc *nats.Conn, table, verb, outcome string) *bodyCatcher {
	t.Helper()
	c := &bodyCatcher{}
	sub, err := nc.Subscribe(events.CmdSubject(events.DefaultPrefix, table, verb), func(m *nats.Msg) {
		c.mu.Lock()
		c.bodies = append(c.bodies, append([]byte(nil), m.Data...))
		c.mu.Unlock()
		id := events.NewID()
		e := events.New(outcome, "n1", table)
		e.CommandID, e.Trigger, e.Result, e.Attempt = id, events.TriggerManual, events.ResultOK, 1
		b, _ := json.Marshal(events.CommandReply{CommandID: id, Accepted: true, Table: table, Verb: verb, Result: events.ResultOK, Event: &e})
		_ = m.Respond(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return c
}

// "supervisor cmd big restore --at TIME" sends the time as RFC 3339 in
// UTC (an offset or a duration back from now turned into one), and drill
// is a verb of the command line.
func TestCmdRestoreAtAndDrillSendTheirBodies(t *testing.T) {
	srv := natstest.Start(t)
	nc := srv.Connect(t)
	restore := catchBodies(t, nc, "big", events.VerbRestore, events.RestoreCompleted)
	drill := catchBodies(t, nc, "big", events.VerbDrill, events.DrillCompleted)

	run := func(args ...string) (int, string, string) {
		t.Helper()
		var out, errs bytes.Buffer
		code := runCmd(append([]string{"--nats", srv.URL(), "--timeout", "30s"}, args...), &out, &errs)
		return code, out.String(), errs.String()
	}
	decode := func(b []byte) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("body %q: %v", b, err)
		}
		return m
	}

	if code, out, errs := run("big", "restore", "--at", "2026-11-26T11:15:00.5+01:00"); code != 0 || !strings.Contains(out, `"type":"restore.completed"`) {
		t.Fatalf("restore --at: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	before := time.Now()
	if code, _, errs := run("--at", "10m", "big", "restore"); code != 0 {
		t.Fatalf("restore --at 10m: exit %d, stderr %q", code, errs)
	}
	after := time.Now()
	if code, _, errs := run("big", "restore"); code != 0 {
		t.Fatalf("restore: exit %d, stderr %q", code, errs)
	}
	bodies := restore.got()
	if len(bodies) != 3 {
		t.Fatalf("the responder got %d restore requests, want 3", len(bodies))
	}
	if b := decode(bodies[0]); b["at"] != "2026-11-26T10:15:00.5Z" || b["wait"] != true {
		t.Errorf("restore --at with an offset sent %s, want at 2026-11-26T10:15:00.5Z in UTC", bodies[0])
	}
	b := decode(bodies[1])
	s, _ := b["at"].(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !strings.HasSuffix(s, "Z") {
		t.Fatalf("restore --at 10m sent %s: at is no RFC 3339 UTC time (%v)", bodies[1], err)
	}
	// The body carries nanoseconds: the time is within the run's bounds.
	if at.Before(before.Add(-10*time.Minute)) || at.After(after.Add(-10*time.Minute)) {
		t.Errorf("restore --at 10m sent %s, want a time between %s and %s", s, before.Add(-10*time.Minute), after.Add(-10*time.Minute))
	}
	if _, ok := decode(bodies[2])["at"]; ok {
		t.Errorf("a restore without --at sent %s", bodies[2])
	}

	if code, out, errs := run("big", "drill"); code != 0 || !strings.Contains(out, `"type":"drill.completed"`) {
		t.Fatalf("drill: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	if got := drill.got(); len(got) != 1 || decode(got[0])["wait"] != true {
		t.Fatalf("drill requests: %q", got)
	}

	// Bad --at values are usage errors naming the flag, and nothing is sent.
	for _, args := range [][]string{
		{"big", "restore", "--at", "yesterday"},
		{"big", "restore", "--at", "2026-11-26 10:15"},
		{"big", "restore", "--at", "2026-13-01T00:00:00Z"},
		{"big", "restore", "--at", "-10m"},
		{"big", "restore", "--at", "0s"},
		{"big", "restore", "--at", ""},
		{"big", "restore", "--at=", "--backup-id", "b1"},
		{"big", "restore", "--at", "10m", "--backup-id", "b1"},
		{"big", "drill", "--at", "10m"},
		{"big", "compact", "--at", "2026-11-26T10:15:00Z"},
	} {
		code, out, errs := run(args...)
		if code != 2 || !strings.HasPrefix(errs, "supervisor cmd: ") || !strings.Contains(errs, "--at") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 and a reason naming --at", args, code, out, errs)
		}
	}
	if n, m := len(restore.got()), len(drill.got()); n != 3 || m != 1 {
		t.Errorf("a refused command line sent a request: %d restores, %d drills", n, m)
	}
}

func TestCmdHelpNamesDrillAndAt(t *testing.T) {
	var out, errs bytes.Buffer
	if code := runCmd([]string{"--help"}, &out, &errs); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, s := range []string{"drill", "-at", "RFC 3339", "10m"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("--help lacks %q:\n%s", s, out.String())
		}
	}
}

func TestAtFlag(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]string{
		"2026-11-26T10:15:00Z":             "2026-11-26T10:15:00Z",
		"2026-11-26T10:15:00.123456789Z":   "2026-11-26T10:15:00.123456789Z",
		"2026-11-26T05:15:00-05:00":        "2026-11-26T10:15:00Z",
		"90m":                              "2026-11-26T10:30:00Z",
		"1h30m15s":                         "2026-11-26T10:29:45Z",
		"2026-11-26T13:00:00.000000001+01": "",
	} {
		got, err := atFlag(events.VerbRestore, in, "", now)
		if want == "" {
			if err == nil {
				t.Errorf("%q accepted as %s", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
}
