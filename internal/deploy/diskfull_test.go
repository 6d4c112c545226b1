package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/disktest"
	"github.com/custodian-dev/custodian/internal/natstest"
)

// TestSupervisorOnAFullDisk is issue 13's check of a full disk, with the
// real supervisor binary: its --data on a 64 MiB tmpfs, NATS separate (on
// another disk). The disk is filled: writes answer no_space (507), reads and
// commands go on, /healthz fails once the outbox cannot write (the events
// are held in memory and still published) and the card says disk_full;
// space is freed: writes and /healthz come back within seconds without a
// restart. Then the disk
// is filled again and the supervisor SIGKILLed: started on the freed disk,
// it serves every acknowledged write; nothing was quarantined or restored
// at any point, and the stream holds every event once. With the embedded
// server, its JetStream store on the same full disk, the tables behave the
// same; the event stream needs a restart of the supervisor (nats-server
// keeps its store's write error), which the test does after the heal.
func TestSupervisorOnAFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the supervisor on a tmpfs")
	}
	bin := buildBinary(t, "./cmd/supervisor")
	t.Run("nats-separate", func(t *testing.T) { supervisorOnAFullDisk(t, bin, false) })
	t.Run("nats-embedded", func(t *testing.T) { supervisorOnAFullDisk(t, bin, true) })
}

// supervisorOnAFullDisk runs the check with NATS on another disk, or
// embedded, its JetStream store on the same full disk.
func supervisorOnAFullDisk(t *testing.T, bin string, embedded bool) {
	disk := disktest.Small(t, 64<<20)
	ports := natstest.FreePorts(t, 2)
	dash := ports[0]
	args := []string{"--data", disk, "--node", "dfull", "--tables", "t2", "--dashboard", addr(dash)}
	var url string
	if embedded {
		// The stream's default limit (10 GiB) is more than this disk:
		// JetStream refuses to create it; 8 MiB fits.
		cfg := filepath.Join(t.TempDir(), "custodian.yaml")
		if err := os.WriteFile(cfg, []byte("stream:\n  max_bytes: 8388608\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		url = "nats://" + addr(ports[1])
		args = append(args, "--nats-listen", addr(ports[1]), "--config", cfg)
	} else {
		srv := natstest.Start(t)
		url = srv.URL()
		args = append(args, "--nats", url)
	}
	sup := startProc(t, "supervisor", bin, nil, args...)
	nc, err := nats.Connect(url, nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := kvClient{t: t, nc: nc}
	c.waitReady(sup)

	acked := map[string]string{}
	for i := 0; i < 50; i++ {
		k, v := fmt.Sprintf("a%06d", i), fmt.Sprintf(`{"i":%d}`, i)
		c.mustPut(k, v)
		acked[k] = v
	}
	if r := c.req("custodian.cmd.t2.backup", `{"wait":true}`); r["result"] != "ok" {
		t.Fatalf("backup: %v", r)
	}

	filler := disktest.Fill(t, disk)
	refused := c.putUntilRefused("b", acked)
	if refused.code != "no_space" || refused.status != "507" {
		t.Fatalf("a write on a full disk answered %+v, want no_space / 507", refused)
	}
	if r := c.req("custodian.kv.t2.get", `{"key":"a000007"}`); fmt.Sprint(r["value"]) != "map[i:7]" {
		t.Fatalf("a read on a full disk: %v", r)
	}
	healthz := func() int {
		resp, err := http.Get("http://" + addr(dash) + "/healthz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// The outbox's own journal may have room left in its last page; the
	// events of a few commands use it up, and then /healthz must fail.
	waitFor(t, time.Minute, "/healthz fails once the outbox cannot write", func() (bool, string) {
		if h := healthz(); h == http.StatusServiceUnavailable {
			return true, ""
		}
		r := c.req("custodian.cmd.t2.verify", `{"wait":true}`)
		return false, fmt.Sprintf("healthz %d, verify %v", healthz(), r["result"])
	})
	if !embedded {
		// The event saying so was held in memory and published.
		waitFor(t, time.Minute, "the card says disk_full", func() (bool, string) { st := cardState(t, dash, "t2"); return st == "disk_full", st })
	}

	disktest.Unfill(t, filler)
	waitFor(t, time.Minute, "writes work again without a restart", func() (bool, string) {
		code, r := c.put("after", `"space is back"`)
		return code == "", r.message
	})
	acked["after"] = `"space is back"`
	if embedded {
		// nats-server keeps its stream store's write error until it
		// restarts (and events emitted meanwhile can be lost by it: see
		// the README, "A full disk"): a restart brings the events back.
		sup.stop(60 * time.Second)
		if sup.err != nil && !strings.Contains(sup.out.String(), "not yet published stay in") {
			t.Fatalf("supervisor stopped with %v", sup.err)
		}
		sup = startProc(t, "supervisor (restarted)", bin, nil, args...)
		c.waitReady(sup)
	}
	waitFor(t, time.Minute, "/healthz ok again", func() (bool, string) { h := healthz(); return h == http.StatusOK, fmt.Sprint(h) })
	if !embedded {
		waitFor(t, time.Minute, "the card is ok again", func() (bool, string) { st := cardState(t, dash, "t2"); return st == "ok", st })
	}

	// Full again, and a crash while it is full.
	filler = disktest.Fill(t, disk)
	if r := c.putUntilRefused("c", acked); r.code != "no_space" {
		t.Fatalf("second fill: %+v", r)
	}
	if err := sup.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-sup.done
	disktest.Unfill(t, filler)
	sup = startProc(t, "supervisor (after the kill)", bin, nil, args...)
	c.waitReady(sup)
	for k, v := range acked {
		r := c.req("custodian.kv.t2.get", fmt.Sprintf(`{"key":%q}`, k))
		got, _ := json.Marshal(r["value"])
		var want any
		_ = json.Unmarshal([]byte(v), &want)
		wantJSON, _ := json.Marshal(want)
		if string(got) != string(wantJSON) {
			t.Fatalf("acknowledged %s = %s after the crash on a full disk, want %s (reply %v)", k, got, wantJSON, r)
		}
	}
	evs := readEvents(t, nc)
	sup.stop(30 * time.Second)
	if q, _ := os.ReadDir(filepath.Join(disk, "quarantine", "t2")); len(q) != 0 {
		t.Fatalf("a full disk quarantined the table: %v", q)
	}
	seen := map[string]bool{}
	failing := false
	for _, e := range evs {
		if seen[e.ID] {
			t.Fatalf("event %s (%s) is twice in the stream", e.ID, e.Type)
		}
		seen[e.ID] = true
		switch e.Type {
		case "corruption.detected", "restore.started", "restore.completed", "table.degraded":
			t.Fatalf("a full disk was handled as corruption: %s", e.Type)
		case "table.stats":
			failing = failing || e.Writes == "failing"
		}
	}
	if !failing && !embedded {
		t.Fatalf("no table.stats in the stream says the writes failed")
	}
}

// diskEvent is what the test reads of an event.
type diskEvent struct {
	ID     string
	Type   string
	Writes string
}

// readEvents reads the whole event stream, in order.
func readEvents(t *testing.T, nc *nats.Conn) []diskEvent {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The events, then the table.stats (in their own stream).
	var out []diskEvent
	for _, name := range []string{"CUSTODIAN_EVENTS", "CUSTODIAN_STATS"} {
		out = append(out, readStreamEvents(ctx, t, js, name)...)
	}
	return out
}

// readStreamEvents reads every message of the stream name.
func readStreamEvents(ctx context.Context, t *testing.T, js jetstream.JetStream, name string) []diskEvent {
	t.Helper()
	st, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []diskEvent
	for uint64(len(out)) < info.State.Msgs {
		m, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatalf("read event %d of %d: %v", len(out)+1, info.State.Msgs, err)
		}
		var e struct {
			ID   string `json:"id"`
			Type string `json:"type"`
			Data struct {
				Writes string `json:"writes"`
			} `json:"data"`
		}
		if err := json.Unmarshal(m.Data(), &e); err != nil {
			t.Fatalf("event %q: %v", m.Data(), err)
		}
		out = append(out, diskEvent{ID: e.ID, Type: e.Type, Writes: e.Data.Writes})
	}
	return out
}

// kvClient sends the data plane's requests.
type kvClient struct {
	t  *testing.T
	nc *nats.Conn
}

// refusal is an error reply: its code and the service error header.
type refusal struct{ code, status, message string }

func (c kvClient) waitReady(p *proc) {
	c.t.Helper()
	waitFor(c.t, time.Minute, "the supervisor answers", func() (bool, string) {
		if p.exited() {
			c.t.Fatalf("supervisor exited: %v", p.err)
		}
		_, err := c.nc.Request("custodian.node.dfull.status", nil, time.Second)
		return err == nil, fmt.Sprint(err)
	})
}

func (c kvClient) req(subject, body string) map[string]any {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var m map[string]any
	if err := request(ctx, c.nc, subject, json.RawMessage(body), &m); err != nil {
		c.t.Fatal(err)
	}
	return m
}

// put returns "" when the put was acknowledged, else the refusal.
func (c kvClient) put(key, value string) (string, refusal) {
	c.t.Helper()
	msg, err := c.nc.Request("custodian.kv.t2.put", []byte(fmt.Sprintf(`{"key":%q,"value":%s}`, key, value)), 20*time.Second)
	if err != nil {
		return "request failed", refusal{message: err.Error()}
	}
	var r struct {
		OK    bool `json:"ok"`
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(msg.Data, &r); err != nil {
		c.t.Fatalf("put reply %q: %v", msg.Data, err)
	}
	if r.Error == nil && r.OK {
		return "", refusal{}
	}
	if r.Error == nil {
		c.t.Fatalf("put reply %q: neither ok nor an error", msg.Data)
	}
	return r.Error.Code, refusal{code: r.Error.Code, status: msg.Header.Get("Nats-Service-Error-Code"), message: r.Error.Message}
}

func (c kvClient) mustPut(key, value string) {
	c.t.Helper()
	if code, r := c.put(key, value); code != "" {
		c.t.Fatalf("put %s: %+v", key, r)
	}
}

// putUntilRefused writes ~2.6 KB values under prefix until one is refused,
// recording the acknowledged ones, and returns the refusal.
func (c kvClient) putUntilRefused(prefix string, acked map[string]string) refusal {
	c.t.Helper()
	for i := 0; i < 100_000; i++ {
		k, v := fmt.Sprintf("%s%06d", prefix, i), fmt.Sprintf(`"%02600d"`, i)
		code, r := c.put(k, v)
		if code != "" {
			return r
		}
		acked[k] = v
	}
	c.t.Fatalf("100,000 writes on a full disk were all acknowledged")
	return refusal{}
}

// cardState is the state of table's card on the dashboard (one node).
func cardState(t *testing.T, port int, table string) string {
	resp, err := http.Get(fmt.Sprintf("http://%s/api/tables/%s", addr(port), table))
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	var cards []struct {
		State string `json:"state"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cards); err != nil || len(cards) != 1 {
		return fmt.Sprintf("%d cards (%v)", len(cards), err)
	}
	return cards[0].State
}
