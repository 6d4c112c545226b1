package bus

import (
	"bufio"
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/events"
)

// publishAll sends evs through a real outbox and waits until they are in
// the stream.
func publishAll(t testing.TB, js jetstream.JetStream, evs []events.Event) {
	t.Helper()
	o := openOutbox(t, filepath.Join(t.TempDir(), "outbox"))
	runOutbox(t, o, js)
	ctx := withTimeout(t, 30*time.Second)
	for _, e := range evs {
		if err := o.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func auditLines(t testing.TB, js jetstream.JetStream, f AuditFilter) []events.Event {
	t.Helper()
	var buf bytes.Buffer
	n, err := Audit(withTimeout(t, 30*time.Second), js, f, &buf)
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Event
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		e, err := events.Unmarshal(sc.Bytes())
		if err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	if n != len(out) {
		t.Fatalf("Audit said %d, wrote %d lines", n, len(out))
	}
	return out
}

func ids(evs []events.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func sameIDs(t testing.TB, what string, got, want []events.Event) {
	t.Helper()
	g, w := ids(got), ids(want)
	if len(g) != len(w) {
		t.Fatalf("%s: %d events, want %d", what, len(g), len(w))
	}
	for i := range g {
		if g[i] != w[i] {
			t.Fatalf("%s: position %d is %s, want %s", what, i, g[i], w[i])
		}
	}
}

func TestAuditReplaysWithFilters(t *testing.T) {
	js := startStream(t)

	if got := auditLines(t, js, AuditFilter{}); len(got) != 0 {
		t.Fatalf("empty stream gave %d events", len(got))
	}

	base := time.Now().UTC().Add(-time.Hour)
	mk := func(typ, node, table string, at time.Duration) events.Event {
		e := events.New(typ, node, table)
		e.Time = base.Add(at)
		return e
	}
	all := []events.Event{
		mk(events.CompactionStarted, "n1", "users", 0),
		mk(events.CompactionCompleted, "n1", "users", time.Minute),
		mk(events.BackupCompleted, "n1", "orders", 2*time.Minute),
		mk(events.TableCreated, "n2", "users", 3*time.Minute),
		mk(events.CompactionFailed, "n2", "orders", 4*time.Minute),
		mk(events.TableStats, "n1", "", 5*time.Minute),
		mk(events.CommandAccepted, "n1", "users", 6*time.Minute),
		mk(events.CommandRejected, "n2", "users", 7*time.Minute),
	}
	publishAll(t, js, all)

	pick := func(keep func(events.Event) bool) []events.Event {
		var out []events.Event
		for _, e := range all {
			if keep(e) {
				out = append(out, e)
			}
		}
		return out
	}
	sameIDs(t, "all", auditLines(t, js, AuditFilter{}), all)
	sameIDs(t, "table users", auditLines(t, js, AuditFilter{Table: "users"}), pick(func(e events.Event) bool { return e.Table == "users" }))
	sameIDs(t, "node n2", auditLines(t, js, AuditFilter{Node: "n2"}), pick(func(e events.Event) bool { return e.Node == "n2" }))
	sameIDs(t, "type compaction", auditLines(t, js, AuditFilter{TypePrefix: "compaction"}), pick(func(e events.Event) bool { return e.Type[:4] == "comp" }))
	sameIDs(t, "type compaction.failed", auditLines(t, js, AuditFilter{TypePrefix: "compaction.failed"}), all[4:5])
	sameIDs(t, "type prefix comm", auditLines(t, js, AuditFilter{TypePrefix: "comm"}), all[6:8])
	sameIDs(t, "node-level", auditLines(t, js, AuditFilter{Table: "_"}), all[5:6])
	sameIDs(t, "n1 users compaction", auditLines(t, js, AuditFilter{Node: "n1", Table: "users", TypePrefix: "compaction."}), all[0:2])
	// Since filters on the event's time; the stream's own start-time filter
	// (publish time) is a superset here.
	sameIDs(t, "since", auditLines(t, js, AuditFilter{Since: base.Add(150 * time.Second)}), all[3:])
	if got := auditLines(t, js, AuditFilter{Table: "nothing"}); len(got) != 0 {
		t.Fatalf("unknown table gave %d events", len(got))
	}
}

func TestAuditStopsAtTheLastMessagePresentAtStart(t *testing.T) {
	js := startStream(t)
	var evs []events.Event
	for i := range 2000 {
		evs = append(evs, testEvent(i))
	}
	publishAll(t, js, evs)
	// Keep publishing while the audit runs: it must still return, with at
	// least the 2000 events present when it began, in order.
	o := openOutbox(t, filepath.Join(t.TempDir(), "outbox2"))
	runOutbox(t, o, js)
	ctx := withTimeout(t, 30*time.Second)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 2000; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := o.Emit(ctx, testEvent(i)); err != nil {
				return
			}
		}
	}()
	got := auditLines(t, js, AuditFilter{})
	close(stop)
	<-done
	if len(got) < 2000 {
		t.Fatalf("audit gave %d events, want at least 2000", len(got))
	}
	for i, e := range got {
		if eventIndex(t, e) != i {
			t.Fatalf("audit position %d holds event %d", i, eventIndex(t, e))
		}
	}
}

func TestAuditRefusesBadFilters(t *testing.T) {
	js := startStream(t)
	for _, f := range []AuditFilter{{Table: "../x"}, {Node: "a.b"}, {TypePrefix: "a.>"}, {Prefix: "x.*"}} {
		var buf bytes.Buffer
		if _, err := Audit(withTimeout(t, 5*time.Second), js, f, &buf); err == nil {
			t.Errorf("filter %+v accepted", f)
		}
	}
}
