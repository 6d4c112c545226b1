package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// healthz answers GET /healthz: the status code and the body.
func healthz(t *testing.T, port int) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// waitHealthz polls /healthz until it answers code, and returns the body.
func waitHealthz(t *testing.T, port, code int, c *child) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, body := healthz(t, port)
		if got == code {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz answers %d %s, want %d; logs:\n%s", got, body, code, c.logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// flipAt xors the byte at off of path with 0x80.
func flipAt(t *testing.T, path string, off int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if off >= len(b) {
		t.Fatalf("flip %s: offset %d outside %d bytes", path, off, len(b))
	}
	b[off] ^= 0x80
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// errorCode is the error code of a reply, "" when it is not an error.
func errorCode(r map[string]any) (code, message string) {
	e, _ := r["error"].(map[string]any)
	if e == nil {
		return "", ""
	}
	code, _ = e["code"].(string)
	message, _ = e["message"].(string)
	return code, message
}

// TestBinaryCriticalTableStopsTheNode: the binary with table users critical
// and on_unrecoverable stop, its data and backups damaged: /healthz answers
// 503 naming users (the check "critical"), every table's data plane answers
// table_unavailable over NATS, node status says failing and stopped, a
// restart keeps it so, and a salvage of users (over NATS) brings the node
// back with the other table's data intact.
func TestBinaryCriticalTableStopsTheNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	natsBin := natsCLI(t)
	bin := buildSupervisor(t)
	data := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "custodian.yaml")
	if err := os.WriteFile(cfg, []byte("overrides:\n  users:\n    critical: true\n    on_unrecoverable: stop\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	natsPort, dashPort := freePort(t), freePort(t)
	args := []string{"--data", data, "--node", "crit", "--tables", "users,orders", "--config", cfg,
		"--nats-listen", fmt.Sprintf("127.0.0.1:%d", natsPort),
		"--dashboard", fmt.Sprintf("127.0.0.1:%d", dashPort)}
	sup := startSupervisor(t, bin, args...)
	o := operator{t: t, nats: natsBin, url: fmt.Sprintf("nats://127.0.0.1:%d", natsPort), home: t.TempDir()}
	o.onFail = func() string { return "supervisor logs:\n" + sup.logs.String() }
	waitReady(t, o, "crit", sup)

	batch := func(table string, n int) {
		ops := make([]string, n)
		for i := range ops {
			ops[i] = fmt.Sprintf(`{"op":"put","key":"k%04d","value":{"n":%d}}`, i, i)
		}
		if r := o.req("custodian.kv."+table+".batch", `{"ops":[`+strings.Join(ops, ",")+`]}`); r["error"] != nil {
			t.Fatalf("batch %s: %v", table, r)
		}
	}
	batch("users", 300)
	batch("orders", 40)
	if r := o.req("custodian.cmd.users.compact", `{"wait":true,"force":true,"mode":"native"}`); r["result"] != "ok" {
		t.Fatalf("compact users: %v", r)
	}
	if r := o.req("custodian.cmd.users.backup", `{"wait":true}`); r["result"] != "ok" {
		t.Fatalf("backup users: %v", r)
	}
	if code, body := healthz(t, dashPort); code != 200 {
		t.Fatalf("healthz of a healthy node: %d %s", code, body)
	}
	sup.stop(t)

	// Damage the table and every backup of it.
	ldbs, _ := filepath.Glob(filepath.Join(data, "tables", "users", "*.ldb"))
	if len(ldbs) == 0 {
		t.Fatal("no .ldb file in tables/users")
	}
	for _, p := range ldbs {
		flipAt(t, p, 20)
	}
	backupFiles, _ := filepath.Glob(filepath.Join(data, "backups", "users", "*", "*.ldb"))
	logs, _ := filepath.Glob(filepath.Join(data, "backups", "users", "*", "*.log"))
	damaged := 0
	for _, p := range append(backupFiles, logs...) {
		if strings.Contains(p, "/.shared/") {
			continue // the same files as the backups' own (hard links): flipped once, there
		}
		if fi, err := os.Stat(p); err == nil && fi.Size() > 200 {
			flipAt(t, p, 200)
			damaged++
		}
	}
	if damaged == 0 {
		t.Fatal("no backup file to damage")
	}

	stopped := func(phase string) {
		t.Helper()
		body := waitHealthz(t, dashPort, http.StatusServiceUnavailable, sup)
		var h struct {
			Checks map[string]string `json:"checks"`
		}
		if err := json.Unmarshal([]byte(body), &h); err != nil || !strings.Contains(h.Checks["critical"], "users") {
			t.Errorf("%s: /healthz body %s, want checks.critical naming users", phase, body)
		}
		for _, table := range []string{"orders", "users"} {
			code, msg := errorCode(o.req("custodian.kv."+table+".get", `{"key":"k0001"}`))
			if code != "table_unavailable" {
				t.Errorf("%s: get on %s: code %q, want table_unavailable", phase, table, code)
			}
			if table == "orders" && (!strings.Contains(msg, "users") || !strings.Contains(msg, "stopped")) {
				t.Errorf("%s: get on orders: message %q does not name users and say stopped", phase, msg)
			}
		}
		if code, _ := errorCode(o.req("custodian.kv.orders.put", `{"key":"new","value":1}`)); code != "table_unavailable" {
			t.Errorf("%s: put on orders: code %q, want table_unavailable", phase, code)
		}
		ns := o.req("custodian.node.crit.status", "")
		if ns["failing"] != true || ns["stopped"] != true {
			t.Errorf("%s: node status failing %v stopped %v, want both true", phase, ns["failing"], ns["stopped"])
		}
	}

	sup = startSupervisor(t, bin, args...)
	waitReady(t, o, "crit", sup)
	// A table opens without reading its data blocks: a verify meets the
	// damage (corruption.detected, restore from every backup, degraded).
	o.req("custodian.cmd.users.verify", "")
	stopped("after the damage")
	sup.stop(t)

	sup = startSupervisor(t, bin, args...)
	waitReady(t, o, "crit", sup)
	stopped("after a restart")

	r := o.req("custodian.cmd.users.salvage", `{"wait":true}`)
	if r["result"] != "ok" {
		t.Fatalf("salvage users: %v\n%s", r, sup.logs)
	}
	waitHealthz(t, dashPort, http.StatusOK, sup)
	r = o.req("custodian.kv.orders.get", `{"key":"k0039"}`)
	if v, _ := r["value"].(map[string]any); v == nil || v["n"] != 39.0 {
		t.Errorf("get on orders after the salvage: %v", r)
	}
	r = o.req("custodian.kv.orders.scan", `{"limit":1000}`)
	if items, _ := r["items"].([]any); len(items) != 40 {
		t.Errorf("orders after the salvage: %d records, want 40", len(items))
	}
	if r := o.req("custodian.kv.orders.put", `{"key":"new","value":1}`); r["error"] != nil {
		t.Errorf("put on orders after the salvage: %v", r)
	}
	if ns := o.req("custodian.node.crit.status", ""); ns["failing"] != false || ns["stopped"] != false {
		t.Errorf("node status after the salvage: failing %v stopped %v", ns["failing"], ns["stopped"])
	}
	sup.stop(t)
}
