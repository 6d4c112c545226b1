package supervisor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// How critical a table is decides what an unrecoverable one does (policy
// keys critical and on_unrecoverable):
//
//   - A table that is not critical and ends degraded (no good backup) stops
//     serving alone; nothing else changes.
//   - A critical table that ends degraded makes the node failing: Health
//     (the /healthz check "critical") fails naming the table, and
//     NodeStatus says failing with the reasons. table.degraded carries
//     data.critical and data.on_unrecoverable.
//   - With on_unrecoverable stop, the node also stops serving data: the
//     store is halted (tables.Store.Halt), so every table's reads and writes
//     answer table_unavailable, while restore, salvage, status and node
//     status work. A marker, <data>/stopped.json (written and fsynced
//     before table.degraded is emitted), keeps the node stopped across
//     restarts. A restore.completed or table.recovered of that table
//     removes it and the node serves again; so does a start whose policy no
//     longer makes that table critical with stop (logged).

// stopMarkerName is the marker of a stopped node, under the data directory.
const stopMarkerName = "stopped.json"

// stopMarker is the content of <data>/stopped.json.
type stopMarker struct {
	Node   string        `json:"node"`
	Tables []stoppedByOf `json:"tables"`
}

// stoppedByOf is one critical table that stopped the node.
type stoppedByOf struct {
	Table  string `json:"table"`
	Since  string `json:"since"` // RFC 3339
	Reason string `json:"reason"`
}

// criticalState is the supervisor's state of its critical tables; mu
// guards every field. It is apart from Supervisor.mu: it is used from
// emit, and it does file I/O (the marker) under its lock.
type criticalState struct {
	mu sync.Mutex
	// stopped are the tables whose degradation stopped the node, by name;
	// the store is halted while it is not empty.
	stopped map[string]stoppedByOf
	// markerErr is why the marker on disk may not say what stopped holds
	// (it could not be written or removed); "" when it does.
	markerErr string
}

// markerPath is the path of the stop marker.
func (s *Supervisor) markerPath() string {
	return filepath.Join(s.store.Root(), stopMarkerName)
}

// loadStopMarker reads the stop marker at start: each table it names whose
// policy still is critical with on_unrecoverable stop keeps the node
// stopped (the store is halted before any table opens); the others are
// dropped from it, with a log line, and the marker removed when none is
// left. A marker that cannot be read or parsed is an error: the node does
// not start serving data on a guess.
func (s *Supervisor) loadStopMarker() error {
	path := s.markerPath()
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("supervisor: stop marker: read %s: %w", path, err)
	}
	var m stopMarker
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("supervisor: stop marker %s: %w (the node was stopped by a critical table; restore or salvage it, or remove the file to serve again)", path, err)
	}
	c := &s.crit
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = map[string]stoppedByOf{}
	dropped := false
	for _, st := range m.Tables {
		if !events.ValidTable(st.Table) {
			return fmt.Errorf("supervisor: stop marker %s: invalid table name %q", path, clip(st.Table))
		}
		if !s.cfg.policy(st.Table).stopsNode() {
			s.cfg.Log.Warn("stop marker cleared: the policy of the table is no longer critical with on_unrecoverable stop",
				"table", st.Table, "since", st.Since, "marker", path)
			dropped = true
			continue
		}
		c.stopped[st.Table] = st
	}
	if dropped {
		if err := s.writeMarkerLocked(); err != nil {
			return fmt.Errorf("supervisor: stop marker: %w", err)
		}
	}
	if len(c.stopped) > 0 {
		s.store.Halt(s.haltMessageLocked())
		s.cfg.Log.Error("node stopped: a critical table is unrecoverable; every table answers table_unavailable until it is restored or salvaged",
			"tables", s.stoppedNamesLocked(), "marker", path)
	}
	return nil
}

// unrecoverable is called by degrade, before table.degraded is emitted with
// data: for a critical table it adds data.critical and
// data.on_unrecoverable, and with on_unrecoverable stop it stops the node
// (marker written and fsynced, store halted; data.node_stopped). The
// returned error is a marker that could not be written: the node is stopped
// all the same, but a restart would serve again (NodeStatus and Health say
// so).
func (s *Supervisor) unrecoverable(ts *tableState, why string, data map[string]any) error {
	if !ts.pol.IsCritical() {
		return nil
	}
	data["critical"] = true
	data["on_unrecoverable"] = string(ts.pol.OnUnrecoverable)
	if !ts.pol.stopsNode() {
		s.cfg.Log.Error("node failing: critical table degraded; other tables keep serving",
			"table", ts.name, "reason", why)
		return nil
	}
	data["node_stopped"] = true
	c := &s.crit
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped == nil {
		c.stopped = map[string]stoppedByOf{}
	}
	c.stopped[ts.name] = stoppedByOf{Table: ts.name, Since: time.Now().UTC().Format(time.RFC3339Nano), Reason: why}
	err := s.writeMarkerLocked()
	s.store.Halt(s.haltMessageLocked())
	s.cfg.Log.Error("node stopped: critical table degraded with on_unrecoverable stop; every table answers table_unavailable until it is restored or salvaged",
		"table", ts.name, "reason", why, "marker", s.markerPath())
	if err != nil {
		return fmt.Errorf("table %s: stop node: %w", ts.name, err)
	}
	return nil
}

// repaired is called by emit for every event: a restore.completed or
// table.recovered of a table that stopped the node removes it from the
// marker; when none is left the node serves again. It runs before the
// event is handed on, so that whoever sees the event finds the node
// serving.
func (s *Supervisor) repaired(e events.Event) {
	if e.Result != events.ResultOK || (e.Type != events.RestoreCompleted && e.Type != events.TableRecovered) {
		return
	}
	c := &s.crit
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.stopped[e.Table]; !ok {
		return
	}
	delete(c.stopped, e.Table)
	if err := s.writeMarkerLocked(); err != nil {
		s.cfg.Log.Error("stop marker not updated: a restart would stop the node again", "table", e.Table, "error", err)
	}
	if len(c.stopped) > 0 {
		s.store.Halt(s.haltMessageLocked())
		return
	}
	s.store.Resume()
	s.cfg.Log.Info("node serves again: the critical table that stopped it was repaired", "table", e.Table, "event", e.Type)
}

// annotate adds data.critical to a table.stats event of a critical table
// (the dashboard's card shows it); other events are returned unchanged.
func (s *Supervisor) annotate(e events.Event) events.Event {
	if e.Type != events.TableStats || e.Table == "" || !s.cfg.policy(e.Table).IsCritical() {
		return e
	}
	e.Data = with(e.Data, map[string]any{"critical": true})
	return e
}

// writeMarkerLocked makes the marker say what c.stopped holds: written to a
// temporary file, fsynced, renamed over the marker and the directory
// fsynced; removed (and the directory fsynced) when c.stopped is empty.
// s.crit.mu is held. c.markerErr records the outcome.
func (s *Supervisor) writeMarkerLocked() error {
	c := &s.crit
	err := s.syncMarker()
	c.markerErr = errText(err)
	return err
}

func (s *Supervisor) syncMarker() error {
	c := &s.crit
	path := s.markerPath()
	dir := filepath.Dir(path)
	if len(c.stopped) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", path, err)
		}
		return syncDir(dir)
	}
	m := stopMarker{Node: s.cfg.Node}
	for _, name := range s.stoppedNamesLocked() {
		m.Tables = append(m.Tables, c.stopped[name])
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := writeSynced(tmp, append(b, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(dir)
}

// writeSynced writes b to path and fsyncs it.
func writeSynced(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.Write(b)
	serr := f.Sync()
	cerr := f.Close()
	return errors.Join(werr, serr, cerr)
}

// syncDir fsyncs a directory (a rename or removal in it is then durable).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	serr := d.Sync()
	cerr := d.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// stoppedNamesLocked lists the tables that stopped the node, sorted;
// s.crit.mu is held.
func (s *Supervisor) stoppedNamesLocked() []string {
	names := make([]string, 0, len(s.crit.stopped))
	for n := range s.crit.stopped {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// haltMessageLocked is the message of every data-plane refusal while the
// node is stopped; s.crit.mu is held.
func (s *Supervisor) haltMessageLocked() string {
	names := s.stoppedNamesLocked()
	which := "critical table " + names[0] + " is"
	if len(names) > 1 {
		which = "critical tables " + strings.Join(names, ", ") + " are"
	}
	return fmt.Sprintf("node %s is stopped: %s unrecoverable (on_unrecoverable: stop); restore or salvage %s to serve again",
		s.cfg.Node, which, strings.Join(names, ", "))
}

// failing reports whether the node is failing and why (one line per
// cause), and which tables stopped it. A node is failing while a critical
// table is degraded, while it is stopped, and while the stop marker could
// not be written or removed.
func (s *Supervisor) failing() (reasons, stoppedBy []string) {
	c := &s.crit
	c.mu.Lock()
	stoppedBy = s.stoppedNamesLocked()
	markerErr := c.markerErr
	msg := ""
	if len(stoppedBy) > 0 {
		msg = s.haltMessageLocked()
	}
	c.mu.Unlock()
	if msg != "" {
		reasons = append(reasons, msg)
	}
	if markerErr != "" {
		reasons = append(reasons, "stop marker "+s.markerPath()+": "+markerErr)
	}

	s.mu.Lock()
	var crit []*tableState
	for _, ts := range s.tables {
		if ts.pol.IsCritical() {
			crit = append(crit, ts)
		}
	}
	s.mu.Unlock()
	sort.Slice(crit, func(a, b int) bool { return crit[a].name < crit[b].name })
	for _, ts := range crit {
		if ok, why := ts.t.Available(); ok || why != tables.ReasonDegraded || slices.Contains(stoppedBy, ts.name) {
			continue
		}
		reasons = append(reasons, fmt.Sprintf("critical table %s is degraded (no good backup): restore or salvage it", ts.name))
	}
	return reasons, stoppedBy
}

// Health is the /healthz check of critical tables: nil while the node is
// not failing, else an error naming each critical table that is degraded
// and saying whether the node is stopped (see failing).
func (s *Supervisor) Health() error {
	reasons, _ := s.failing()
	if len(reasons) == 0 {
		return nil
	}
	return errors.New(strings.Join(reasons, "; "))
}
