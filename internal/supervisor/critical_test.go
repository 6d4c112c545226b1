package supervisor

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
)

// criticalCfg is a quiet config where table users is critical with
// on_unrecoverable onUnrec ("" leaves the default, degrade).
func criticalCfg(onUnrec Unrecoverable) Config {
	yes := true
	users := quiet()
	users.Critical = &yes
	users.OnUnrecoverable = onUnrec
	return Config{Defaults: quiet(), Tables: map[string]Policy{"users": users}}
}

// damageAll flips bytes in every .ldb file of table users and in the data
// file of every backup of it: neither the table nor a backup is good.
func damageAll(t *testing.T, root string) {
	t.Helper()
	ldbs := ldbFiles(t, filepath.Join(root, "tables", "users"))
	if len(ldbs) == 0 {
		t.Fatal("no .ldb file in tables/users")
	}
	for _, p := range ldbs {
		flip(t, p, 20)
	}
	ids := backupIDs(t, root, "users")
	if len(ids) == 0 {
		t.Fatal("no backup of users")
	}
	for _, id := range ids {
		dir := filepath.Join(root, "backups", "users", id)
		for _, pat := range []string{"*.ldb", "*.log"} {
			m, _ := filepath.Glob(filepath.Join(dir, pat))
			for _, p := range m {
				if fi, err := os.Stat(p); err == nil && fi.Size() > 200 {
					flip(t, p, 200)
				}
			}
		}
	}
}

// withOrders adds table orders with 50 records (values of generation 1)
// to the data directory root.
func withOrders(t *testing.T, root string) {
	t.Helper()
	h := start(t, harnessOpt{root: root})
	fill(t, h.open("orders"), 50, 1)
	h.stop()
}

// wantUnavailable checks that a get and a put on table name answer
// table_unavailable with a message that contains every one of words.
func wantUnavailable(t *testing.T, h *harness, name string, words ...string) {
	t.Helper()
	tb := mustTable(t, h, name)
	ctx := context.Background()
	_, gerr := tb.Get(ctx, key(1))
	perr := tb.Put(ctx, key(1), []byte(`"x"`))
	for op, err := range map[string]error{"get": gerr, "put": perr} {
		if apierr.CodeOf(err) != apierr.TableUnavailable {
			t.Errorf("%s on %s: %v, want table_unavailable", op, name, err)
			continue
		}
		for _, w := range words {
			if !strings.Contains(apierr.MessageOf(err), w) {
				t.Errorf("%s on %s: message %q does not say %q", op, name, apierr.MessageOf(err), w)
			}
		}
	}
}

// wantOrdersIntact checks that orders holds its 50 records of generation 1
// and takes writes.
func wantOrdersIntact(t *testing.T, h *harness) {
	t.Helper()
	orders := mustTable(t, h, "orders")
	got := contents(t, orders)
	if len(got) != 50 || got[key(0)] != `{"n":0,"v":1}` || got[key(49)] != `{"n":49,"v":1}` {
		t.Errorf("orders: %d records (k0000=%s k0049=%s), want the 50 written", len(got), got[key(0)], got[key(49)])
	}
	if err := orders.Put(context.Background(), "after", []byte(`true`)); err != nil {
		t.Errorf("put on orders: %v", err)
	}
}

func wantFailing(t *testing.T, h *harness, stopped bool) NodeStatus {
	t.Helper()
	err := h.sup.Health()
	if err == nil || !strings.Contains(err.Error(), "users") {
		t.Errorf("Health: %v, want an error naming users", err)
	}
	ns := h.sup.NodeStatus(context.Background())
	if !ns.Failing || len(ns.FailingReasons) == 0 || !strings.Contains(strings.Join(ns.FailingReasons, " "), "users") {
		t.Errorf("node status failing %v reasons %q, want failing naming users", ns.Failing, ns.FailingReasons)
	}
	if ns.Stopped != stopped {
		t.Errorf("node status stopped %v, want %v", ns.Stopped, stopped)
	}
	if stopped && !slices.Equal(ns.StoppedBy, []string{"users"}) {
		t.Errorf("node status stopped_by %v, want [users]", ns.StoppedBy)
	}
	return ns
}

func wantHealthy(t *testing.T, h *harness) {
	t.Helper()
	if err := h.sup.Health(); err != nil {
		t.Errorf("Health: %v, want nil", err)
	}
	if ns := h.sup.NodeStatus(context.Background()); ns.Failing || ns.Stopped || len(ns.FailingReasons) > 0 {
		t.Errorf("node status failing %v stopped %v reasons %q, want neither", ns.Failing, ns.Stopped, ns.FailingReasons)
	}
}

func markerExists(t *testing.T, root string) bool {
	t.Helper()
	_, err := os.Stat(filepath.Join(root, stopMarkerName))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// TestCriticalStopStopsTheNodeUntilSalvaged: a critical table with
// on_unrecoverable stop whose data and backups are all damaged ends
// degraded; then every table answers table_unavailable, the node is
// failing and stopped, and it stays so across a restart; the repair
// commands work; a salvage of the table brings the node back, the other
// table's data intact.
func TestCriticalStopStopsTheNodeUntilSalvaged(t *testing.T) {
	root, _ := prepared(t, 200, 2)
	withOrders(t, root)
	damageAll(t, root)
	cfg := criticalCfg(UnrecoverableStop)

	h := start(t, harnessOpt{root: root, cfg: cfg})
	h.open("orders")
	wantHealthy(t, h)
	h.open("users")
	if _, err := h.sup.Submit(context.Background(), Command{Table: "users", Verb: events.VerbVerify}); err != nil &&
		apierr.CodeOf(err) != apierr.TableUnavailable {
		t.Fatalf("verify: %v", err)
	}
	deg := h.rec.waitType(t, "users", events.TableDegraded, 1)[0]
	if deg.Data["critical"] != true || deg.Data["on_unrecoverable"] != "stop" || deg.Data["node_stopped"] != true {
		t.Errorf("table.degraded data %v, want critical, on_unrecoverable stop, node_stopped", deg.Data)
	}
	wantUnavailable(t, h, "orders", "users", "stopped")
	wantUnavailable(t, h, "users")
	if _, err := mustTable(t, h, "orders").Scan(context.Background(), "", "", 10); apierr.CodeOf(err) != apierr.TableUnavailable {
		t.Errorf("scan on orders: %v, want table_unavailable", err)
	}
	wantFailing(t, h, true)
	if !markerExists(t, root) {
		t.Errorf("no %s after the node stopped", stopMarkerName)
	}
	// The status verb still answers.
	tk := h.submit("orders", events.VerbStatus, events.CommandBody{})
	if st, ok := tk.Status(); !ok || st.Table != "orders" {
		t.Errorf("status of orders: %+v %v", st, ok)
	}

	// A restart keeps the node stopped, before the critical table is even
	// opened.
	h.stop()
	h = start(t, harnessOpt{root: root, cfg: cfg})
	h.open("orders")
	wantUnavailable(t, h, "orders", "users", "stopped")
	wantFailing(t, h, true)
	h.open("users") // damaged: restored at start, degraded again
	h.rec.waitType(t, "users", events.TableDegraded, 1)
	wantUnavailable(t, h, "orders", "users")
	wantFailing(t, h, true)

	// A salvage of the critical table brings the node back.
	rec := h.wait(h.submit("users", events.VerbSalvage, events.CommandBody{}))
	if rec.Type != events.TableRecovered || rec.Result != events.ResultOK {
		t.Fatalf("salvage: %s (%s)\n%s", rec.Type, rec.Error, dump(h.rec.all()))
	}
	wantHealthy(t, h)
	if markerExists(t, root) {
		t.Errorf("%s still there after the salvage", stopMarkerName)
	}
	wantOrdersIntact(t, h)
	if n, _ := rec.Data["records"].(int64); int64(len(contents(t, mustTable(t, h, "users")))) != n {
		t.Errorf("users after salvage: want the %d records table.recovered reports", n)
	}

	// And it stays so across a restart.
	h.stop()
	h = start(t, harnessOpt{root: root, cfg: cfg})
	h.open("orders")
	h.open("users")
	wantHealthy(t, h)
	if _, err := mustTable(t, h, "orders").Get(context.Background(), "after"); err != nil {
		t.Errorf("get on orders after restart: %v", err)
	}
}

// TestCriticalDegradeFailsHealthWhileOthersServe: with on_unrecoverable
// degrade (the default) a critical table that ends degraded makes the node
// failing while the other tables serve; a salvage makes it healthy again.
func TestCriticalDegradeFailsHealthWhileOthersServe(t *testing.T) {
	root := preparedAllBad(t)
	withOrders(t, root)
	h := start(t, harnessOpt{root: root, cfg: criticalCfg("")})
	h.open("orders")
	h.open("users")
	deg := h.rec.waitType(t, "users", events.TableDegraded, 1)[0]
	if deg.Data["critical"] != true || deg.Data["on_unrecoverable"] != "degrade" || deg.Data["node_stopped"] != nil {
		t.Errorf("table.degraded data %v, want critical, on_unrecoverable degrade, no node_stopped", deg.Data)
	}
	ns := wantFailing(t, h, false)
	if !slices.ContainsFunc(ns.Tables, func(st TableStatus) bool { return st.Table == "users" && st.Critical }) {
		t.Errorf("node status does not say users is critical: %+v", ns.Tables)
	}
	wantUnavailable(t, h, "users", "degraded")
	wantOrdersIntact(t, h)
	if markerExists(t, root) {
		t.Errorf("%s written for on_unrecoverable degrade", stopMarkerName)
	}
	if rec := h.wait(h.submit("users", events.VerbSalvage, events.CommandBody{})); rec.Type != events.TableRecovered {
		t.Fatalf("salvage: %s (%s)", rec.Type, rec.Error)
	}
	wantHealthy(t, h)
}

// TestNonCriticalDegradedTableLeavesTheNodeHealthy: a table that is not
// critical degrades alone, as before (on_unrecoverable has no effect).
func TestNonCriticalDegradedTableLeavesTheNodeHealthy(t *testing.T) {
	root := preparedAllBad(t)
	withOrders(t, root)
	cfg := Config{Defaults: quiet()}
	cfg.Defaults.OnUnrecoverable = UnrecoverableStop
	h := start(t, harnessOpt{root: root, cfg: cfg})
	h.open("orders")
	h.open("users")
	deg := h.rec.waitType(t, "users", events.TableDegraded, 1)[0]
	if _, ok := deg.Data["critical"]; ok {
		t.Errorf("table.degraded of a table that is not critical: data %v", deg.Data)
	}
	wantHealthy(t, h)
	wantOrdersIntact(t, h)
	if markerExists(t, root) {
		t.Errorf("%s written for a table that is not critical", stopMarkerName)
	}
}

// syncBuffer is a bytes.Buffer for a logger written from several
// goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStopMarkerClearedWhenThePolicyChanged: a node stopped by a critical
// table serves again at the next start when that table's policy no longer
// says critical with on_unrecoverable stop; the marker is removed and a
// log line says so.
func TestStopMarkerClearedWhenThePolicyChanged(t *testing.T) {
	root := preparedAllBad(t)
	withOrders(t, root)
	h := start(t, harnessOpt{root: root, cfg: criticalCfg(UnrecoverableStop)})
	h.open("orders")
	h.open("users")
	h.rec.waitType(t, "users", events.TableDegraded, 1)
	wantUnavailable(t, h, "orders", "users")
	h.stop()
	if !markerExists(t, root) {
		t.Fatalf("no %s after the node stopped", stopMarkerName)
	}

	var logs syncBuffer
	cfg := criticalCfg(UnrecoverableDegrade) // still critical, but degrade
	cfg.Log = slog.New(slog.NewTextHandler(&logs, nil))
	h = start(t, harnessOpt{root: root, cfg: cfg})
	if markerExists(t, root) {
		t.Errorf("%s kept although the policy no longer stops the node", stopMarkerName)
	}
	if !strings.Contains(logs.String(), "stop marker cleared") || !strings.Contains(logs.String(), "table=users") {
		t.Errorf("no log line about the cleared marker:\n%s", logs.String())
	}
	h.open("orders")
	wantOrdersIntact(t, h)
}

// TestStatsOfACriticalTableSayCritical: table.stats of a critical table
// carries data.critical, of another table not.
func TestStatsOfACriticalTableSayCritical(t *testing.T) {
	cfg := criticalCfg("")
	for name, p := range cfg.Tables {
		p.StatsEvery = 20 * time.Millisecond
		cfg.Tables[name] = p
	}
	other := quiet()
	other.StatsEvery = 20 * time.Millisecond
	cfg.Tables["orders"] = other
	h := start(t, harnessOpt{cfg: cfg})
	h.open("users")
	h.open("orders")
	if e := h.rec.waitType(t, "users", events.TableStats, 1)[0]; e.Data["critical"] != true {
		t.Errorf("table.stats of critical users: data %v, want critical true", e.Data)
	}
	if e := h.rec.waitType(t, "orders", events.TableStats, 1)[0]; e.Data["critical"] != nil {
		t.Errorf("table.stats of orders: data %v, want no critical", e.Data)
	}
}

// TestCriticalPolicyDefaultsAndOverrides: critical defaults to false and
// on_unrecoverable to degrade; an override's critical false wins over
// defaults' true; a bad on_unrecoverable is refused naming where it is.
func TestCriticalPolicyDefaultsAndOverrides(t *testing.T) {
	cfg, err := Config{Node: "n1"}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	if p := cfg.policy("x"); p.IsCritical() || p.OnUnrecoverable != UnrecoverableDegrade || p.stopsNode() {
		t.Errorf("default policy: critical %v on_unrecoverable %q", p.IsCritical(), p.OnUnrecoverable)
	}
	yes, no := true, false
	cfg, err = Config{Node: "n1",
		Defaults: Policy{Critical: &yes, OnUnrecoverable: UnrecoverableStop},
		Tables:   map[string]Policy{"relaxed": {Critical: &no}, "soft": {OnUnrecoverable: UnrecoverableDegrade}, "other": {Retention: 3}},
	}.normalize()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][2]any{
		"relaxed": {false, UnrecoverableStop},
		"soft":    {true, UnrecoverableDegrade},
		"other":   {true, UnrecoverableStop},
		"unnamed": {true, UnrecoverableStop},
	} {
		p := cfg.policy(name)
		if p.IsCritical() != want[0] || p.OnUnrecoverable != want[1] {
			t.Errorf("%s: critical %v on_unrecoverable %q, want %v %v", name, p.IsCritical(), p.OnUnrecoverable, want[0], want[1])
		}
	}
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Node: "n1", Defaults: Policy{OnUnrecoverable: "halt"}}, `defaults: on_unrecoverable "halt": want degrade or stop`},
		{Config{Node: "n1", Tables: map[string]Policy{"users": {OnUnrecoverable: "Stop"}}}, `overrides.users: on_unrecoverable "Stop": want degrade or stop`},
	} {
		if err := c.cfg.Validate(); err == nil || err.Error() != c.want {
			t.Errorf("Validate: %v, want %q", err, c.want)
		}
	}
}

// TestHaltedStoreRefusesEveryTable: the store gate itself (tables.Store.Halt)
// refuses the data plane of every table and lets maintenance run.
func TestHaltedStoreRefusesEveryTable(t *testing.T) {
	h := start(t, harnessOpt{})
	a := h.open("a")
	fill(t, a, 10, 1)
	h.sup.Store().Halt("node n1 is stopped: test")
	if halted, msg := h.sup.Store().Halted(); !halted || msg != "node n1 is stopped: test" {
		t.Errorf("Halted: %v %q", halted, msg)
	}
	wantUnavailable(t, h, "a", "node n1 is stopped: test")
	if e := h.wait(h.submit("a", events.VerbBackup, events.CommandBody{})); e.Type != events.BackupCompleted {
		t.Errorf("backup of a halted store: %s (%s)", e.Type, e.Error)
	}
	h.sup.Store().Resume()
	if halted, _ := h.sup.Store().Halted(); halted {
		t.Errorf("Halted after Resume")
	}
	if got := contents(t, a); len(got) != 10 {
		t.Errorf("after resume: %d records, want 10", len(got))
	}
}
