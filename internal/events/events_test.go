package events

import (
	"strings"
	"testing"
	"time"
)

func TestSubjects(t *testing.T) {
	e := New(CompactionCompleted, "n1", "users")
	if got := Subject("custodian", e); got != "custodian.events.n1.users.compaction.completed" {
		t.Fatalf("subject %q", got)
	}
	node := New(BackupFailed, "n1", "")
	if got := Subject("acme.custodian", node); got != "acme.custodian.events.n1._.backup.failed" {
		t.Fatalf("node-level subject %q", got)
	}
	if got := TypeFilter("custodian", TableDegraded); got != "custodian.events.*.*.table.degraded" {
		t.Fatalf("type filter %q", got)
	}
	if KVSubject("custodian", "users", "put") != "custodian.kv.users.put" ||
		CmdSubject("custodian", "users", "compact") != "custodian.cmd.users.compact" ||
		NodeSubject("custodian", "n1", "status") != "custodian.node.n1.status" {
		t.Fatal("request subjects")
	}
}

func TestNames(t *testing.T) {
	for _, ok := range []string{"a", "users", "a_b-c9", strings.Repeat("x", 64)} {
		if !ValidTable(ok) {
			t.Errorf("table %q refused", ok)
		}
	}
	for _, bad := range []string{"", "A", "-a", "_a", "a.b", "a/b", "../x", "a b", strings.Repeat("x", 65), "a*", "a>"} {
		if ValidTable(bad) {
			t.Errorf("table %q accepted", bad)
		}
	}
	for _, bad := range []string{"", "a.b", "*", ">"} {
		if ValidNode(bad) {
			t.Errorf("node %q accepted", bad)
		}
	}
	for host, want := range map[string]string{"web-1.example.com": "web-1", "": "node", "---": "node", "a b": "a-b"} {
		if got := NodeFromHost(host); got != want || !ValidNode(got) {
			t.Errorf("NodeFromHost(%q) = %q, want %q", host, got, want)
		}
	}
	if ValidPrefix("a.*") || ValidPrefix("") || !ValidPrefix("acme.custodian") {
		t.Error("prefix validation")
	}
}

func TestFinal(t *testing.T) {
	first := Event{Type: CompactionFailed, Attempt: 1}
	second := Event{Type: CompactionFailed, Attempt: 2}
	if first.Final() || !second.Final() {
		t.Fatal("a compaction failure is final at its second attempt only")
	}
	for _, typ := range []string{BackupFailed, VerifyFailed, RestoreFailed} {
		if !(Event{Type: typ, Attempt: 1}).Final() {
			t.Errorf("%s must be final at once", typ)
		}
	}
	abandoned := Event{Type: CompactionFailed, Attempt: 1, Data: map[string]any{"final": true, "retry": "abandoned: shutdown"}}
	retried := Event{Type: CompactionFailed, Attempt: 1, Data: map[string]any{"final": false, "retry_in_ms": 30000}}
	if !abandoned.Final() || retried.Final() {
		t.Errorf("data.final: abandoned %v, retried %v, want true, false", abandoned.Final(), retried.Final())
	}
	if (Event{Type: RestoreCompleted}).Final() {
		t.Error("a success is no final failure")
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	e := New(RestoreCompleted, "n1", "users")
	e.Trigger, e.Attempt, e.Result, e.DurationMS = TriggerAuto, 1, ResultOK, 42
	e.Data = map[string]any{"records": float64(7), "backup_id": "b1"}
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"id":`, `"type":"restore.completed"`, `"node":"n1"`, `"table":"users"`, `"command_id":""`, `"trigger":"auto"`, `"duration_ms":42`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("JSON lacks %s: %s", field, b)
		}
	}
	got, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != e.ID || !got.Time.Equal(e.Time) || got.Data["backup_id"] != "b1" {
		t.Fatalf("round trip: %+v", got)
	}
	if _, err := Unmarshal([]byte(`{"type":"x"}`)); err == nil {
		t.Fatal("an event without id accepted")
	}
	if _, err := Unmarshal([]byte(`not json`)); err == nil {
		t.Fatal("garbage accepted")
	}
}

func TestIDsSortByCreation(t *testing.T) {
	a := NewID()
	time.Sleep(2 * time.Millisecond)
	b := NewID()
	if !(a < b) || len(a) != 36 {
		t.Fatalf("ids %s, %s: want UUIDv7 strings in creation order", a, b)
	}
}
