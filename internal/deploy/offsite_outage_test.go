package deploy

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/changelog"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
	"github.com/custodian-dev/custodian/internal/offsite"
	"github.com/custodian-dev/custodian/internal/tables"
)

// outageFor is how long NATS is down in TestClusterOffsiteSurvivesNATSOutage.
// The issue asks for a minute; 15 s keeps CI short and is already five
// backup intervals and sixty shipping rounds of the supervisor below.
const outageFor = 15 * time.Second

// TestClusterOffsiteSurvivesNATSOutage: all three servers of the cluster
// are down for outageFor while the supervisor's table keeps being written
// and backed up. The data plane is served over NATS, so no client can
// write while NATS is down: the writes during the outage come from the
// supervisor's own --demo writer, which writes to its table in-process
// (the demo table, backed up every 3 s by the config here). Afterwards:
//   - the journal stream CUSTODIAN_JOURNAL holds every journal record of
//     the table, in order, once: the ops decoded from the stream are
//     exactly the ops a replay of the table's local journal gives (after a
//     clean stop of the supervisor), at the same positions, no duplicate
//     message ids or positions, no gap;
//   - the bucket holds a manifest for every backup whose backup.completed
//     says it was copied off-site (offsite_bytes), and each manifest names
//     files the bucket holds whole; backups attempted during the outage
//     are counted and reported, and a backup after it is off-site again.
func TestClusterOffsiteSurvivesNATSOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster and stops it for 15 s")
	}
	supBin := buildBinary(t, "./cmd/supervisor")
	c := natstest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nc, js := connectJS(t, c.URLs, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	const node, table = "od3", "demo"
	dir := t.TempDir()
	cfg := filepath.Join(dir, "custodian.yaml")
	if err := os.WriteFile(cfg, []byte("overrides:\n  demo:\n    backup_every: 3s\n    stats_every: 1s\n    jitter: -1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := offsiteRun{bin: supBin, node: node, data: filepath.Join(dir, node),
		args: []string{"--config", cfg, "--demo", "--nats", c.URLs, "--dashboard", "off", "--replicas", "3"}}
	sup := run.start(t, ctx, nc, "supervisor od3")
	checkReplicas(t, ctx, js)

	// offsiteBackups: the ids of the backups copied off-site since after.
	offsiteBackups := func(after time.Time) (bool, string) {
		rctx, c := context.WithTimeout(ctx, 10*time.Second)
		defer c()
		evs, err := tableEvents(rctx, js, node, table)
		if err != nil {
			return false, err.Error()
		}
		for _, e := range ofType(evs, events.BackupCompleted) {
			if e.Time.After(after) && e.Data["offsite_bytes"] != nil {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events, no backup copied off-site since %s", len(evs), after.Format(time.StampMilli))
	}
	waitFor(t, 60*time.Second, "a backup copied off-site before the outage", func() (bool, string) { return offsiteBackups(time.Time{}) })

	down := time.Now()
	for i := range c.Servers {
		c.Stop(i)
	}
	t.Logf("all three servers stopped for %s", outageFor)
	time.Sleep(outageFor) // the outage itself: nothing to wait for
	if sup.exited() {
		t.Fatalf("the supervisor exited while NATS was down: %v", sup.err)
	}
	for i := range c.Servers {
		c.Start(i)
	}
	up := time.Now()
	waitFor(t, 60*time.Second, "a backup copied off-site after the outage", func() (bool, string) { return offsiteBackups(up) })
	// The shipper caught up: a table.stats after the outage with the lag
	// under a second and no shipping error.
	waitFor(t, 60*time.Second, "the journal shipper catches up", func() (bool, string) {
		rctx, c := context.WithTimeout(ctx, 10*time.Second)
		defer c()
		evs, err := tableEvents(rctx, js, node, table)
		if err != nil {
			return false, err.Error()
		}
		last := "no table.stats after the outage"
		for _, e := range ofType(evs, events.TableStats) {
			if !e.Time.After(up) {
				continue
			}
			lag, _ := e.Data["journal_lag_ms"].(float64)
			if lag < 1000 && e.Data["offsite_error"] == nil {
				return true, ""
			}
			last = fmt.Sprintf("journal_lag_ms %v offsite_error %v", e.Data["journal_lag_ms"], e.Data["offsite_error"])
		}
		return false, last
	})

	// Every backup on disk gets its off-site copy, the ones whose copy
	// failed during the outage too (the supervisor tries again every 2 s
	// after a failure).
	obs, err := js.ObjectStore(ctx, offsite.BackupBucket)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "every local backup off-site", func() (bool, string) {
		for _, id := range localBackupIDs(t, run.data, table) {
			if _, err := obs.GetInfo(ctx, node+"/"+table+"/backups/"+id+".json"); err != nil {
				return false, fmt.Sprintf("backup %s: %v", id, err)
			}
		}
		return true, ""
	})

	// A clean stop: the demo stops writing, the shipper's last round and
	// the outbox's flush run; the local journal is then final.
	sup.stop(30 * time.Second)
	if sup.err != nil {
		t.Fatalf("supervisor stop: %v", sup.err)
	}

	// The journal: the stream against a replay of the local journal.
	msgs := journalMessages(t, ctx, js, node, table)
	ids := map[string]uint64{}
	var got []changelog.Op
	var gens []uint64
	var lastGen uint64
	for _, m := range msgs {
		if prev, ok := ids[m.msgID]; ok || m.msgID == "" {
			t.Errorf("journal message %d: Nats-Msg-Id %q (also message %d)", m.seq, m.msgID, prev)
		}
		ids[m.msgID] = m.seq
		if m.isGen {
			if len(gens) > 0 && m.gen <= gens[len(gens)-1] {
				t.Errorf("journal message %d: generation record %d after %d", m.seq, m.gen, gens[len(gens)-1])
			}
			gens = append(gens, m.gen)
			continue
		}
		if m.gen < lastGen {
			t.Errorf("journal message %d: a record of generation %d after generation %d", m.seq, m.gen, lastGen)
		}
		lastGen = m.gen
		got = append(got, m.ops...)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq {
			t.Fatalf("stream op %d at position %d after position %d: a duplicate or out of order", i, got[i].Seq, got[i-1].Seq)
		}
	}
	want := localJournal(t, ctx, run.data, table)
	if len(got) != len(want) {
		t.Errorf("the stream holds %d ops of %s, the local journal %d", len(got), table, len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i].Seq != want[i].Seq || got[i].Kind != want[i].Kind || string(got[i].Key) != string(want[i].Key) || string(got[i].Value) != string(want[i].Value) {
			t.Fatalf("op %d: stream %d %s %q, local journal %d %s %q", i, got[i].Seq, got[i].Kind, got[i].Key, want[i].Seq, want[i].Kind, want[i].Key)
		}
	}
	var during int
	for _, op := range want {
		if op.Time.After(down) && op.Time.Before(up) {
			during++
		}
	}
	if during == 0 {
		t.Error("no op of the local journal was written during the outage: the test tested nothing")
	}
	t.Logf("journal: %d messages, %d ops (%d written during the outage), generation records %v: the same ops as the local journal, once, in order",
		len(msgs), len(got), during, gens)

	// The bucket: a manifest for every backup copied off-site.
	evs, err := tableEvents(ctx, js, node, table)
	if err != nil {
		t.Fatal(err)
	}
	var copied, local, inOutage int
	for _, e := range ofType(evs, events.BackupCompleted) {
		id, _ := e.Data["backup_id"].(string)
		if e.Time.After(down) && e.Time.Before(up) {
			inOutage++
		}
		if e.Data["offsite_bytes"] == nil {
			local++
			continue
		}
		copied++
		checkManifest(t, ctx, obs, node, table, id)
	}
	failed := ofType(evs, events.OffsiteFailed)
	for _, e := range failed {
		t.Logf("offsite.failed: backup %v: %v", e.Data["backup_id"], e.Data["reason"])
	}
	if local != len(failed) {
		t.Errorf("%d backups without offsite_bytes, %d offsite.failed: a backup not copied off-site must say so", local, len(failed))
	}
	if inOutage == 0 {
		t.Error("no backup completed during the outage")
	}
	t.Logf("backups: %d completed during the outage; %d copied off-site (each with its manifest in the bucket), %d local only (offsite.failed)",
		inOutage, copied, local)

	// "Both survive NATS outages the way the event outbox does: nothing is
	// skipped": every backup still on disk (the older ones are pruned) has
	// its manifest and files in the bucket, those whose copy failed
	// during the outage included.
	for _, id := range localBackupIDs(t, run.data, table) {
		checkManifest(t, ctx, obs, node, table, id)
	}
}

// localBackupIDs lists the backups of table in a data directory.
func localBackupIDs(t *testing.T, data, table string) []string {
	t.Helper()
	ms, _ := filepath.Glob(filepath.Join(data, "backups", table, "*", "manifest.json"))
	var ids []string
	for _, m := range ms {
		ids = append(ids, filepath.Base(filepath.Dir(m)))
	}
	return ids
}

// localJournal replays table's local change journal in the data directory
// of a stopped supervisor.
func localJournal(t *testing.T, ctx context.Context, data, table string) []changelog.Op {
	t.Helper()
	s, err := tables.OpenStore(data, tables.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tb, err := s.Open(ctx, table, false)
	if err != nil {
		t.Fatal(err)
	}
	j, err := tb.Journal()
	if err != nil {
		t.Fatal(err)
	}
	var ops []changelog.Op
	if _, err := j.Replay(changelog.Replay{}, func(op changelog.Op) error {
		ops = append(ops, op)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ops
}

// checkManifest asserts that the bucket holds backup id's manifest and
// every file it names, whole (the size the manifest says).
func checkManifest(t *testing.T, ctx context.Context, obs jetstream.ObjectStore, node, table, id string) {
	t.Helper()
	b, err := obs.GetBytes(ctx, node+"/"+table+"/backups/"+id+".json")
	if err != nil {
		t.Errorf("backup %s was copied off-site, but its manifest: %v", id, err)
		return
	}
	var m offsite.BackupManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Errorf("backup %s: manifest: %v", id, err)
		return
	}
	if m.ID != id || len(m.Files) == 0 {
		t.Errorf("backup %s: manifest for %q with %d files", id, m.ID, len(m.Files))
	}
	for _, f := range m.Files {
		info, err := obs.GetInfo(ctx, node+"/"+table+"/files/"+f.SHA256)
		switch {
		case err != nil:
			t.Errorf("backup %s: file %s: %v", id, f.Name, err)
		case info.Size != uint64(f.Size) || info.Deleted:
			t.Errorf("backup %s: file %s: %d bytes in the bucket (deleted %v), the manifest says %d", id, f.Name, info.Size, info.Deleted, f.Size)
		}
	}
}
