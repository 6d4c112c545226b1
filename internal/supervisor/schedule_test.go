package supervisor

import (
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

func TestSchedulesRunAndPrune(t *testing.T) {
	pol := quiet()
	pol.BackupEvery = 30 * time.Millisecond
	pol.StatsEvery = 20 * time.Millisecond
	pol.VerifyEvery = 40 * time.Millisecond
	pol.Retention = 2
	cfg := Config{Defaults: quiet(), Tables: map[string]Policy{"busy": pol}}
	h := start(t, harnessOpt{cfg: cfg})
	fill(t, h.open("busy"), 20, 1)
	fill(t, h.open("calm"), 20, 1)

	h.rec.waitType(t, "busy", events.BackupPruned, 2)
	h.rec.waitType(t, "busy", events.VerifyCompleted, 1)
	stats := h.rec.waitType(t, "busy", events.TableStats, 2)
	for _, k := range []string{"bytes", "records", "dead_records", "dead_ratio", "next_backup"} {
		if _, ok := stats[0].Data[k]; !ok {
			t.Errorf("table.stats lacks data.%s: %v", k, stats[0].Data)
		}
	}
	for _, e := range h.rec.of("busy", events.BackupCompleted, events.VerifyCompleted, events.BackupStarted) {
		if e.Trigger != events.TriggerSchedule || e.CommandID == "" {
			t.Errorf("%s: trigger %q command %q, want schedule with an id", e.Type, e.Trigger, e.CommandID)
		}
	}
	if n := len(h.rec.of("busy", events.CommandAccepted)); n != 0 {
		t.Errorf("scheduled work emitted %d command.accepted", n)
	}
	for _, e := range h.rec.of("busy", events.BackupPruned) {
		if e.Data["backup_id"] == nil || e.Data["backup_id"] == "" {
			t.Errorf("backup.pruned without backup_id: %v", e.Data)
		}
	}
	h.stop()
	bs, err := h.sup.Store().Backups("busy")
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) > 2 {
		t.Errorf("%d backups kept, retention is 2", len(bs))
	}
	if n := len(h.rec.of("calm", events.BackupStarted, events.VerifyCompleted, events.TableStats)); n != 0 {
		t.Errorf("the table with schedules off did %d pieces of work", n)
	}
}

func TestPolicyDefaultsAndOverrides(t *testing.T) {
	d := DefaultPolicy()
	if d.CompactEvery != time.Hour || d.BackupEvery != 6*time.Hour || d.VerifyEvery != 24*time.Hour ||
		d.StatsEvery != time.Minute || d.Jitter != 0.1 || d.Threshold != 0.2 || d.Retention != 7 ||
		d.RetryDelay != 30*time.Second || d.Mode != "auto" {
		t.Errorf("DefaultPolicy: %+v", d)
	}
	cfg, err := Config{Node: "n1", Defaults: Policy{Threshold: 0.5}, Tables: map[string]Policy{"x": {Retention: 3}}}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	x := cfg.policy("x")
	if x.Retention != 3 || x.Threshold != 0.5 || x.BackupEvery != 6*time.Hour {
		t.Errorf("override over defaults: %+v", x)
	}
	if y := cfg.policy("y"); y.Retention != 7 || y.Threshold != 0.5 {
		t.Errorf("table without override: %+v", y)
	}
	if cfg.MaxConcurrent != 2 || cfg.QueueSize != 16 {
		t.Errorf("config defaults: %+v", cfg)
	}
	for _, bad := range []Config{
		{Node: ""},
		{Node: "n.1"},
		{Node: "n1", Defaults: Policy{Mode: "turbo"}},
		{Node: "n1", Tables: map[string]Policy{"x": {Jitter: 2}}},
	} {
		if _, err := bad.normalize(); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
	for i := 0; i < 100; i++ {
		if d := jittered(time.Second, 0.1); d < 900*time.Millisecond || d > 1100*time.Millisecond {
			t.Fatalf("jittered 1s by 0.1: %v", d)
		}
	}
}

func TestNoScheduledWorkOnAnUnavailableTable(t *testing.T) {
	root := damagedWithoutBackup(t, 20)

	fast := quiet()
	fast.BackupEvery = 20 * time.Millisecond
	fast.VerifyEvery = 20 * time.Millisecond
	fast.CompactEvery = 20 * time.Millisecond
	fast.StatsEvery = 20 * time.Millisecond
	h := start(t, harnessOpt{root: root, cfg: Config{Defaults: fast}})
	fill(t, h.open("other"), 20, 1)
	h.open("users")
	h.rec.waitType(t, "users", events.TableDegraded, 1)
	h.rec.waitType(t, "other", events.BackupCompleted, 3) // time passes for the schedules
	h.rec.waitType(t, "other", events.TableStats, 3)
	if got := h.rec.of("users", events.BackupStarted, events.VerifyCompleted, events.VerifyFailed,
		events.CompactionStarted, events.CompactionSkipped, events.TableStats, events.BackupFailed); len(got) != 0 {
		t.Errorf("scheduled work on a degraded table:\n%s", dump(got))
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Node: "n1", Defaults: Policy{Threshold: -1, Jitter: -1, CompactEvery: -1}, Tables: map[string]Policy{"users": {Retention: 2, Mode: "native"}}}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid config refused: %v", err)
	}
	if err := (Config{Node: "n1"}).Validate(); err != nil {
		t.Fatalf("config of defaults refused: %v", err)
	}
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Node: "n1", Defaults: Policy{Mode: "bogus"}}, `defaults: mode "bogus": want auto, native or rewrite`},
		{Config{Node: "n1", Tables: map[string]Policy{"users": {Threshold: 1.5}}}, `overrides.users: threshold 1.5: want a dead ratio of at most 1`},
		{Config{Node: "n1", Defaults: Policy{Retention: -3}}, `defaults: retention -3: want at least 1 backup`},
		{Config{Node: "n1", Tables: map[string]Policy{"b": {Retention: -1}, "a": {Jitter: 1}}}, `overrides.a: jitter 1: want a fraction below 1`},
		{Config{Node: "n1", Defaults: Policy{Threshold: math.NaN()}}, `defaults: threshold NaN: want a dead ratio of at most 1`},
		{Config{Node: "n1", Defaults: Policy{RetryDelay: -time.Second}}, `defaults: retry_delay -1s: want a positive delay`},
		{Config{Node: "n1", Tables: map[string]Policy{"Bad.Name": {}}}, `overrides: table "Bad.Name": invalid table name: want ^[a-z0-9][a-z0-9_-]{0,63}$`},
		{Config{Node: "a.b"}, `node "a.b": want one subject token of letters, digits, _ or -`},
		{Config{Node: "n1", MaxConcurrent: -1}, `max_concurrent -1: want at least 1`},
		{Config{Node: "n1", QueueSize: -2}, `queue_size -2: want at least 1`},
		{Config{Node: "n1", ShutdownGrace: -time.Second}, `shutdown_grace -1s: want a positive duration`},
	} {
		err := c.cfg.Validate()
		if err == nil || err.Error() != c.want {
			t.Errorf("Validate(%+v) = %v, want %q", c.cfg, err, c.want)
			continue
		}
		// New refuses the same config with the same words, and opens nothing.
		root := t.TempDir()
		if _, oerr := Open(root, tables.Options{}, newRecorder(), c.cfg); oerr == nil || !strings.Contains(oerr.Error(), c.want) {
			t.Errorf("Open with %+v: %v, want an error containing %q", c.cfg, oerr, c.want)
		}
		if ents, _ := os.ReadDir(root); len(ents) != 0 {
			t.Errorf("Open with a bad config created %d entries in its data directory", len(ents))
		}
	}
	// Validate does not change the config it checks.
	c := Config{Node: "n1", Tables: map[string]Policy{"x": {Retention: 3}}}
	if err := c.Validate(); err != nil || c.MaxConcurrent != 0 || c.Tables["x"].Threshold != 0 {
		t.Errorf("Validate changed its config or refused it: %+v %v", c, err)
	}
}

// The first fire of a schedule is spread over a whole interval (from half
// to one and a half of it), so that the tables of a node opened together
// do not start their work within the jitter of each other; a negative
// jitter keeps it exact.
func TestFirstFiresSpreadOverAnInterval(t *testing.T) {
	const d = time.Hour
	lo, hi := d, time.Duration(0)
	for i := 0; i < 2000; i++ {
		f := firstDue(d, DefaultJitter)
		if f < d/2 || f > d*3/2 {
			t.Fatalf("first fire %v outside [%v, %v]", f, d/2, d*3/2)
		}
		lo, hi = min(lo, f), max(hi, f)
	}
	if lo > d*6/10 || hi < d*14/10 {
		t.Fatalf("2,000 first fires within [%v, %v]: want them spread over [30m, 1h30m]", lo, hi)
	}
	if f := firstDue(d, -1); f != d {
		t.Fatalf("jitter -1: first fire %v, want exactly %v", f, d)
	}
}
