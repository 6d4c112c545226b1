package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/offsite"
)

// TestBinaryRebuildsALostTableFromOffsite: the binary with --offsite on
// (embedded server: its store survives here, as a NATS cluster's would):
// writes, a backup copied off-site, more writes shipped; the supervisor
// stops, the table's live and backup directories are deleted (its journal
// archive is left behind); started again, it fetches the table from the
// bucket and the stream and restores every write; the other table is not
// touched.
func TestBinaryRebuildsALostTableFromOffsite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	natsBin := natsCLI(t)
	bin := buildSupervisor(t)
	data := t.TempDir()
	natsPort := freePort(t)
	args := []string{"--data", data, "--node", "off", "--tables", "users,orders", "--offsite", "on",
		"--nats-listen", fmt.Sprintf("127.0.0.1:%d", natsPort), "--dashboard", "off"}
	sup := startSupervisor(t, bin, args...)
	o := operator{t: t, nats: natsBin, url: fmt.Sprintf("nats://127.0.0.1:%d", natsPort), home: t.TempDir()}
	o.onFail = func() string { return "supervisor logs:\n" + sup.logs.String() }
	waitReady(t, o, "off", sup)
	put := func(table string, from, to int) {
		ops := make([]string, 0, to-from)
		for i := from; i < to; i++ {
			ops = append(ops, fmt.Sprintf(`{"op":"put","key":"k%04d","value":{"n":%d}}`, i, i))
		}
		if r := o.req("custodian.kv."+table+".batch", `{"ops":[`+strings.Join(ops, ",")+`]}`); r["error"] != nil {
			t.Fatalf("batch %s: %v", table, r)
		}
	}
	put("users", 0, 200)
	put("orders", 0, 20)
	r := o.req("custodian.cmd.users.backup", `{"wait":true}`)
	ev, _ := r["event"].(map[string]any)
	evData, _ := ev["data"].(map[string]any)
	if r["result"] != "ok" || evData["offsite_bytes"] == nil {
		t.Fatalf("backup users: %v", r)
	}
	put("users", 200, 230)
	// A second backup, whose table file is then damaged in the bucket
	// (another object under its SHA-256 name): the rebuild must fall back
	// to the first and say why.
	r = o.req("custodian.cmd.users.backup", `{"wait":true}`)
	ev, _ = r["event"].(map[string]any)
	evData, _ = ev["data"].(map[string]any)
	newest, _ := evData["backup_id"].(string)
	if r["result"] != "ok" || newest == "" {
		t.Fatalf("second backup users: %v", r)
	}
	damageOffsite(t, o.url, "off", "users", newest)
	put("users", 230, 260) // after the backups: in the journal only
	sup.stop(t)            // a clean stop ships the journal's last records
	for _, d := range []string{"tables", "backups"} {
		if err := os.RemoveAll(filepath.Join(data, d, "users")); err != nil {
			t.Fatal(err)
		}
	}

	sup = startSupervisor(t, bin, args...)
	o.onFail = func() string { return "supervisor logs:\n" + sup.logs.String() }
	waitReady(t, o, "off", sup)
	for _, k := range []int{0, 199, 200, 259} {
		got := o.req("custodian.kv.users.get", fmt.Sprintf(`{"key":"k%04d"}`, k))
		if v, _ := got["value"].(map[string]any); v == nil || v["n"] != float64(k) {
			t.Fatalf("users k%04d after the rebuild: %v", k, got)
		}
	}
	if got := o.req("custodian.kv.orders.get", `{"key":"k0019"}`); got["value"] == nil {
		t.Fatalf("orders k0019: %v", got)
	}
	sup.stop(t) // the logs are read once the process is gone (no race with their copy)
	logs := sup.logs.String()
	if !strings.Contains(logs, "table fetched from off-site") || !strings.Contains(logs, "type=restore.completed table=users trigger=startup") ||
		!strings.Contains(logs, "source=offsite") || !strings.Contains(logs, "offsite_skipped=") || !strings.Contains(logs, newest) {
		t.Fatalf("no off-site rebuild in the logs:\n%s", logs)
	}
}

// damageOffsite replaces the first table file of the off-site backup id of
// table with other bytes under the same object name.
func damageOffsite(t *testing.T, url, node, table, id string) {
	t.Helper()
	ctx := context.Background()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	b, err := offsite.OpenBackups(ctx, js, node)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := b.Manifests(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	obs, err := js.ObjectStore(ctx, offsite.BackupBucket)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.ID != id {
			continue
		}
		for _, f := range m.Files {
			if strings.HasSuffix(f.Name, ".ldb") {
				if _, err := obs.PutBytes(ctx, node+"/"+table+"/files/"+f.SHA256, []byte("not the file")); err != nil {
					t.Fatal(err)
				}
				return
			}
		}
	}
	t.Fatalf("no table file of backup %s off-site", id)
}
