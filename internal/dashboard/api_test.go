package dashboard

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custodian-dev/custodian/internal/events"
)

func ev(typ, node, table string, mods ...func(*events.Event)) events.Event {
	e := events.New(typ, node, table)
	for _, m := range mods {
		m(&e)
	}
	return e
}

func withData(kv ...any) func(*events.Event) {
	return func(e *events.Event) {
		e.Data = map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			e.Data[kv[i].(string)] = kv[i+1]
		}
	}
}

func withResult(r string, ms int64, errText string) func(*events.Event) {
	return func(e *events.Event) { e.Result, e.DurationMS, e.Error = r, ms, errText }
}

type cardJSON struct {
	Node            string `json:"node"`
	Table           string `json:"table"`
	State           string `json:"state"`
	Bytes           int64  `json:"bytes"`
	Records         int64  `json:"records"`
	LastBackupAgeMS *int64 `json:"last_backup_age_ms"`
	LastBackup      *struct {
		BackupID string `json:"backup_id"`
	} `json:"last_backup"`
	Series   []map[string]any `json:"series"`
	Counters map[string]int   `json:"counters"`
}

func TestTablesEndpoints(t *testing.T) {
	e := setup(t, Config{})
	e.publish(
		ev(events.TableCreated, "n1", "users"),
		ev(events.TableStats, "n1", "users", withData("bytes", 1000, "records", 10)),
		ev(events.TableStats, "n1", "users", withData("bytes", 3000, "records", 30)),
		ev(events.TableStats, "n2", "users", withData("bytes", 500, "records", 5)),
		ev(events.BackupCompleted, "n2", "users", withResult("ok", 12, ""), withData("backup_id", "b1")),
		ev(events.CompactionStarted, "n1", "orders"),
		ev(events.NotificationSent, "n1", ""),
	)

	var all []cardJSON
	resp := e.do("GET", "/api/tables", nil, nil, &all)
	if resp.StatusCode != 200 || len(all) != 3 {
		t.Fatalf("GET /api/tables: %d, %d cards", resp.StatusCode, len(all))
	}
	if all[0].Table != "orders" || all[0].State != "compacting" || all[1].Node != "n1" || all[2].Node != "n2" {
		t.Fatalf("cards out of order or wrong: %+v", all)
	}
	u1 := all[1]
	if u1.Bytes != 3000 || u1.Records != 30 || len(u1.Series) != 2 || u1.Counters["table.stats"] != 2 {
		t.Fatalf("users on n1: %+v", u1)
	}
	if all[2].LastBackup == nil || all[2].LastBackup.BackupID != "b1" || all[2].LastBackupAgeMS == nil || *all[2].LastBackupAgeMS < 0 {
		t.Fatalf("users on n2: %+v", all[2])
	}

	var users []cardJSON
	if resp := e.do("GET", "/api/tables/users", nil, nil, &users); resp.StatusCode != 200 || len(users) != 2 {
		t.Fatalf("GET /api/tables/users: %d %+v", resp.StatusCode, users)
	}
	for _, c := range users {
		if c.Table != "users" {
			t.Fatalf("card of %s in users", c.Table)
		}
	}
	e.expectError("GET", "/api/tables/nope", nil, nil, 404, "not_found")
	e.expectError("GET", "/api/tables/Bad..Name", nil, nil, 400, "invalid_table")
	e.expectError("GET", "/api/nothing", nil, nil, 404, "not_found")
}

func TestHistoryEndpoint(t *testing.T) {
	e := setup(t, Config{})
	var sent []events.Event
	for i := 0; i < 30; i++ {
		table := []string{"users", "orders"}[i%2]
		switch i % 3 {
		case 0:
			sent = append(sent, ev(events.CompactionCompleted, "n1", table, withResult("ok", int64(i), "")))
		case 1:
			sent = append(sent, ev(events.CompactionFailed, "n1", table, withResult("failed", 1, fmt.Sprintf("err %d", i))))
		default:
			sent = append(sent, ev(events.BackupCompleted, "n1", table, withResult("ok", 2, ""), withData("backup_id", fmt.Sprintf("b%d", i))))
		}
	}
	last := e.publish(sent...)
	if last != 30 {
		t.Fatalf("last seq %d", last)
	}

	var rows []map[string]any
	e.do("GET", "/api/history", nil, nil, &rows)
	if len(rows) != 30 || rows[0]["seq"].(float64) != 30 || rows[29]["seq"].(float64) != 1 {
		t.Fatalf("%d rows, first %v", len(rows), rows[0]["seq"])
	}
	// Each row is the event's JSON plus seq.
	want, _ := json.Marshal(sent[29])
	var wantMap map[string]any
	_ = json.Unmarshal(want, &wantMap)
	wantMap["seq"] = float64(30)
	gotJSON, _ := json.Marshal(rows[0])
	wantJSON, _ := json.Marshal(wantMap)
	if string(gotJSON) != string(wantJSON) {
		t.Fatalf("row\n%s\nwant\n%s", gotJSON, wantJSON)
	}

	cases := []struct {
		query string
		n     int
		check func(r map[string]any) bool
	}{
		{"table=users", 15, func(r map[string]any) bool { return r["table"] == "users" }},
		{"type=compaction", 20, func(r map[string]any) bool { return strings.HasPrefix(r["type"].(string), "compaction.") }},
		{"type=compaction.failed&table=orders", 5, func(r map[string]any) bool { return r["type"] == "compaction.failed" && r["table"] == "orders" }},
		{"result=failed", 10, func(r map[string]any) bool { return r["result"] == "failed" && r["error"] != "" }},
		{"limit=7", 7, func(r map[string]any) bool { return true }},
		{"limit=5&before=11", 5, func(r map[string]any) bool { return r["seq"].(float64) < 11 }},
		{"since=1h", 30, func(r map[string]any) bool { return true }},
		{"since=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339), 0, nil},
	}
	for _, c := range cases {
		var got []map[string]any
		resp := e.do("GET", "/api/history?"+c.query, nil, nil, &got)
		if resp.StatusCode != 200 || len(got) != c.n {
			t.Fatalf("%s: %d, %d rows, want %d", c.query, resp.StatusCode, len(got), c.n)
		}
		for i, r := range got {
			if !c.check(r) {
				t.Fatalf("%s: row %v does not match", c.query, r)
			}
			if i > 0 && r["seq"].(float64) >= got[i-1]["seq"].(float64) {
				t.Fatalf("%s: not newest first", c.query)
			}
		}
	}
	// Paging walks the whole log exactly once.
	seen := map[float64]bool{}
	before := ""
	for page := 0; page < 10; page++ {
		var got []map[string]any
		e.do("GET", "/api/history?limit=8"+before, nil, nil, &got)
		for _, r := range got {
			s := r["seq"].(float64)
			if seen[s] {
				t.Fatalf("seq %v twice while paging", s)
			}
			seen[s] = true
		}
		if len(got) < 8 {
			break
		}
		before = fmt.Sprintf("&before=%v", got[len(got)-1]["seq"])
	}
	if len(seen) != 30 {
		t.Fatalf("paging saw %d rows", len(seen))
	}
	for _, bad := range []string{"limit=0", "limit=x", "limit=100000", "before=-1", "since=yesterday", "result=maybe", "table=..%2F"} {
		code := "invalid_request"
		if strings.HasPrefix(bad, "table") {
			code = "invalid_table"
		}
		e.expectError("GET", "/api/history?"+bad, nil, nil, 400, code)
	}
}

func TestActions(t *testing.T) {
	e := setup(t, Config{})
	r := e.respond("users", events.VerbCompact)

	var reply events.CommandReply
	resp := e.do("POST", "/api/tables/users/compact", strings.NewReader(`{"force":true}`), map[string]string{"Content-Type": "application/json"}, &reply)
	if resp.StatusCode != http.StatusAccepted || !reply.Accepted || reply.Verb != "compact" || reply.Table != "users" {
		t.Fatalf("compact: %d %+v", resp.StatusCode, reply)
	}
	msgs, ids := r.requests()
	if len(msgs) != 1 || string(msgs[0].Data) != `{"force":true}` || msgs[0].Subject != "custodian.cmd.users.compact" {
		t.Fatalf("responder got %d requests: %v", len(msgs), msgs)
	}
	if reply.CommandID != ids[0] {
		t.Fatalf("reply command id %s, responder made %s", reply.CommandID, ids[0])
	}
	// The outcome reaches the history with the command id.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var rows []map[string]any
		e.do("GET", "/api/history?type=compaction.completed&table=users", nil, nil, &rows)
		if len(rows) == 1 && rows[0]["command_id"] == reply.CommandID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no compaction.completed row for %s: %v", reply.CommandID, rows)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// No body at all is fine too.
	if resp := e.do("POST", "/api/tables/users/compact", nil, nil, &reply); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("compact without body: %d", resp.StatusCode)
	}
	if msgs, _ := r.requests(); len(msgs) != 2 || len(msgs[1].Data) != 0 {
		t.Fatalf("second request: %v", msgs)
	}

	e.expectError("POST", "/api/tables/ghost/compact", nil, nil, 404, "not_found")
	e.expectError("POST", "/api/tables/users/explode", nil, nil, 404, "not_found")
	e.expectError("POST", "/api/tables/Users!/compact", nil, nil, 400, "invalid_table")
	e.expectError("POST", "/api/tables/users/compact", strings.NewReader(`[1,2]`), nil, 400, "invalid_request")
	e.expectError("POST", "/api/tables/users/compact", strings.NewReader(`{"force":`), nil, 400, "invalid_request")
	e.expectError("POST", "/api/tables/users/compact", strings.NewReader(`{"x":"`+strings.Repeat("a", maxActionBody)+`"}`), nil, 413, "too_large")
	if msgs, _ := r.requests(); len(msgs) != 2 {
		t.Fatalf("bad requests reached the supervisor: %d", len(msgs))
	}

	// A supervisor error keeps its code and status.
	sub, err := e.nc.Subscribe("custodian.cmd.users.backup", func(m *nats.Msg) {
		reply := nats.NewMsg(m.Reply)
		reply.Header.Set("Nats-Service-Error-Code", "409")
		reply.Header.Set("Nats-Service-Error", "queue full")
		reply.Data = []byte(`{"error":{"code":"busy","message":"table users: queue full"}}`)
		_ = m.RespondMsg(reply)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	e.expectError("POST", "/api/tables/users/backup", nil, nil, 409, "busy")
}

func TestMetricsAndHealth(t *testing.T) {
	e := setup(t, Config{})
	e.publish(
		ev(events.TableStats, "n1", "users", withData("bytes", 2048, "records", 10, "dead_ratio", 0.25)),
		ev(events.CompactionCompleted, "n1", "users", withResult("ok", 1500, ""), withData("bytes_before", 2048, "bytes_after", 1024)),
	)
	resp, err := http.Get(e.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	text := string(b)
	for _, want := range []string{
		`custodian_events_total{result="ok",type="compaction.completed"} 1`,
		`custodian_table_bytes{node="n1",table="users"} 1024`,
		`custodian_table_dead_ratio{node="n1",table="users"} 0.25`,
		`custodian_table_state{node="n1",state="ok",table="users"} 1`,
		`custodian_operation_duration_seconds_count{operation="compaction",result="ok"} 1`,
		`custodian_events_last_sequence 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "custodian_") {
			t.Errorf("metric without the custodian_ prefix: %s", line)
		}
	}

	var h map[string]any
	if resp := e.do("GET", "/healthz", nil, nil, &h); resp.StatusCode != 200 || h["status"] != "ok" {
		t.Fatalf("healthz: %d %v", resp.StatusCode, h)
	}
	e.nats.Stop()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var h map[string]any
		resp := e.do("GET", "/healthz", nil, nil, &h)
		if resp.StatusCode == 503 && h["status"] == "disconnected" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("healthz with NATS down: %d %v", resp.StatusCode, h)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The page and the API keep answering from the projection.
	var cards []cardJSON
	if resp := e.do("GET", "/api/tables", nil, nil, &cards); resp.StatusCode != 200 || len(cards) != 1 {
		t.Fatalf("tables with NATS down: %d %d", resp.StatusCode, len(cards))
	}
	e.nats.Restart()
	seq := e.publish(ev(events.VerifyCompleted, "n1", "users"))
	if seq != 2 {
		t.Fatalf("seq after restart %d", seq)
	}
	for {
		var h map[string]any
		if resp := e.do("GET", "/healthz", nil, nil, &h); resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatal("healthz did not recover")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPageAndAssets(t *testing.T) {
	e := setup(t, Config{})
	for _, c := range []struct{ path, ctype, contains string }{
		{"/", "text/html", `<script src="/assets/app.js"`},
		{"/assets/app.js", "text/javascript", "EventSource"},
		{"/assets/style.css", "text/css", ".card"},
	} {
		resp, err := http.Get(e.url + c.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) || !strings.Contains(string(b), c.contains) {
			t.Fatalf("%s: %d %q", c.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Fatalf("%s: CSP %q", c.path, csp)
		}
		// Offline: nothing but this origin (the SVG namespace is a name, not a fetch).
		text := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "")
		if strings.Contains(text, "http://") || strings.Contains(text, "https://") || strings.Contains(text, `src="//`) {
			t.Fatalf("%s refers to another origin", c.path)
		}
	}
	if resp, _ := http.Get(e.url + "/assets/missing.js"); resp.StatusCode != 404 {
		t.Fatalf("missing asset: %d", resp.StatusCode)
	}
}

func TestSeriesThinnedInTheList(t *testing.T) {
	e := setup(t, Config{})
	e.publish(statsSeries(200, "users")...)
	var list, one []cardJSON
	e.do("GET", "/api/tables", nil, nil, &list)
	e.do("GET", "/api/tables/users", nil, nil, &one)
	if len(one) != 1 || len(one[0].Series) != 200 {
		t.Fatalf("table endpoint: %d points", len(one[0].Series))
	}
	if len(list) != 1 || len(list[0].Series) != listSeriesPoints {
		t.Fatalf("list endpoint: %d points", len(list[0].Series))
	}
	first, last := list[0].Series[0]["bytes"].(float64), list[0].Series[listSeriesPoints-1]["bytes"].(float64)
	if first != 0 || last != 199 {
		t.Fatalf("thinned series spans %v..%v", first, last)
	}
}

// TestHistoryExclude: exclude leaves out types and families, combines with
// the other filters and with paging, and refuses what names no type.
func TestHistoryExclude(t *testing.T) {
	e := setup(t, Config{})
	// Per round of 6: 3 table.stats (one a progress report of a running
	// compaction), a command.accepted, a compaction.completed and, every
	// other round, a backup.failed or a command.rejected.
	var sent []events.Event
	for i := 0; i < 20; i++ {
		table := []string{"users", "orders"}[i%2]
		sent = append(sent,
			ev(events.TableStats, "n1", table, withData("bytes", 1000+i, "records", i)),
			ev(events.CommandAccepted, "n1", table, withData("verb", "compact")),
			ev(events.TableStats, "n1", table, withData("operation", "compaction", "done_bytes", i)),
			ev(events.CompactionCompleted, "n1", table, withResult("ok", int64(i), "")),
			ev(events.TableStats, "n2", table, withData("bytes", 2000+i)),
		)
		if i%2 == 0 {
			sent = append(sent, ev(events.BackupFailed, "n1", table, withResult("failed", 1, "disk full")))
		} else {
			sent = append(sent, ev(events.CommandRejected, "n2", table, withData("verb", "backup")))
		}
	}
	e.publish(sent...)
	// The table.stats went to CUSTODIAN_STATS: the history of the event
	// stream is the rest, sequences 1, 2, ...
	stats := len(sent)
	sent = slices.DeleteFunc(sent, events.IsStats)
	stats -= len(sent)
	count := func(keep func(events.Event) bool) int {
		n := 0
		for _, s := range sent {
			if keep(s) {
				n++
			}
		}
		return n
	}
	get := func(query string) []map[string]any {
		t.Helper()
		var rows []map[string]any
		resp := e.do("GET", "/api/history?"+query, nil, nil, &rows)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d", query, resp.StatusCode)
		}
		return rows
	}
	cases := []struct {
		query string
		keep  func(events.Event) bool
	}{
		{"exclude=table.stats", func(s events.Event) bool { return s.Type != events.TableStats }},
		{"exclude=table.stats,command.accepted", func(s events.Event) bool {
			return s.Type != events.TableStats && s.Type != events.CommandAccepted
		}},
		{"exclude=table.stats&exclude=command", func(s events.Event) bool {
			return s.Type != events.TableStats && !strings.HasPrefix(s.Type, "command.")
		}},
		{"exclude=table.,command.", func(s events.Event) bool {
			return !strings.HasPrefix(s.Type, "table.") && !strings.HasPrefix(s.Type, "command.")
		}},
		{"exclude=", func(events.Event) bool { return true }},
		{"exclude=table.stats&table=orders&node=n1", func(s events.Event) bool {
			return s.Type != events.TableStats && s.Table == "orders" && s.Node == "n1"
		}},
		{"exclude=compaction.completed&type=compaction", func(events.Event) bool { return false }},
		{"exclude=table.stats,command&result=failed", func(s events.Event) bool { return s.Type == events.BackupFailed }},
		{"exclude=command&type=table", func(s events.Event) bool { return false }},
	}
	for _, c := range cases {
		want := count(c.keep)
		rows := get(c.query + "&limit=1000")
		if len(rows) != want {
			t.Fatalf("%s: %d rows, want %d", c.query, len(rows), want)
		}
		for i, r := range rows {
			s := sent[int(r["seq"].(float64))-1]
			if r["id"] != s.ID || !c.keep(s) {
				t.Fatalf("%s: row %v should not be there", c.query, r)
			}
			if i > 0 && r["seq"].(float64) >= rows[i-1]["seq"].(float64) {
				t.Fatalf("%s: not newest first", c.query)
			}
		}
	}
	// Paging with exclude walks every non-stats row exactly once, newest
	// first, and never shows a stats row.
	// type=table.stats: the rows of CUSTODIAN_STATS, newest first.
	if rows := get("type=table.stats&limit=1000"); len(rows) != stats || rows[0]["stream"] != "stats" || rows[0]["seq"].(float64) != float64(stats) {
		t.Fatalf("type=table.stats: %d rows, want %d of the stats stream", len(rows), stats)
	}
	var paged []float64
	before := ""
	for page := 0; page < 100; page++ {
		rows := get("exclude=table.stats&limit=7" + before)
		for _, r := range rows {
			if r["type"] == events.TableStats {
				t.Fatalf("page %d: stats row %v", page, r)
			}
			paged = append(paged, r["seq"].(float64))
		}
		if len(rows) < 7 {
			break
		}
		before = fmt.Sprintf("&before=%v", rows[len(rows)-1]["seq"])
	}
	var want []float64
	for i := len(sent) - 1; i >= 0; i-- {
		if sent[i].Type != events.TableStats {
			want = append(want, float64(i+1))
		}
	}
	if fmt.Sprint(paged) != fmt.Sprint(want) {
		t.Fatalf("paging saw %v\nwant %v", paged, want)
	}
	for _, bad := range []string{"exclude=nope", "exclude=table.stats,", "exclude=,table.stats", "exclude=table.stat", "exclude=comp",
		"exclude=TABLE.STATS", "exclude=table.stats,%20command", "exclude=table.stats&exclude=x.y", "exclude=*"} {
		e.expectError("GET", "/api/history?"+bad, nil, nil, 400, "invalid_request")
		e.expectError("GET", "/api/stream?"+bad, nil, nil, 400, "invalid_request")
	}
}
