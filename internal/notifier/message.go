package notifier

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// Notification is what a sink sends: one event, or a digest of several.
type Notification struct {
	ID       string         // event id, or the digest id
	Severity string         // critical, high or warning (a digest: the most urgent)
	Title    string         // one line
	Message  string         // plain text for a person woken at night
	Tags     []string       // short labels (ntfy Tags)
	Events   []events.Event // the event, or every event of a digest
	Digest   bool
}

// render builds the notification of one notifying event.
func render(prefix string, e events.Event, severity string) Notification {
	var b strings.Builder
	what, did, next := explain(prefix, e)
	fmt.Fprintf(&b, "%s.\n", what)
	if e.Error != "" {
		fmt.Fprintf(&b, "Error: %s\n", e.Error)
	} else if reason := dataString(e, "reason"); reason != "" {
		fmt.Fprintf(&b, "Cause: %s\n", reason)
	}
	fmt.Fprintf(&b, "\nWhat the supervisor already did: %s\n", did)
	fmt.Fprintf(&b, "\nWrites a restore cannot bring back: %s\n", lossWindow(e))
	b.WriteString("\nWhat to do next:\n")
	for i, step := range next {
		fmt.Fprintf(&b, "  %d. %s\n", i+1, step)
	}
	if d := details(e); d != "" {
		fmt.Fprintf(&b, "\nDetails: %s\n", d)
	}
	fmt.Fprintf(&b, "\nEvent %s %s at %s", e.Type, e.ID, e.Time.UTC().Format(time.RFC3339))
	if e.Trigger != "" {
		fmt.Fprintf(&b, ", trigger %s", e.Trigger)
	}
	if e.Attempt > 0 {
		fmt.Fprintf(&b, ", attempt %d", e.Attempt)
	}
	if e.CommandID != "" {
		fmt.Fprintf(&b, ", command %s", e.CommandID)
	}
	b.WriteString(".\n")
	return Notification{
		ID:       e.ID,
		Severity: severity,
		Title:    fmt.Sprintf("%s: %s", strings.ToUpper(severity), headline(e)),
		Message:  b.String(),
		Tags:     []string{severityTag(severity), e.Type, place(e)},
		Events:   []events.Event{e},
	}
}

// headline is the short description used in titles and digest lines.
func headline(e events.Event) string {
	where := place(e)
	switch e.Type {
	case events.TableDegraded:
		switch {
		case nodeStopped(e):
			return fmt.Sprintf("CRITICAL %s is DEGRADED: the whole node %s STOPPED serving data", where, e.Node)
		case criticalTable(e):
			return fmt.Sprintf("CRITICAL %s is DEGRADED and unavailable: node %s reports itself failing", where, e.Node)
		}
		return fmt.Sprintf("%s is DEGRADED and unavailable", where)
	case events.RestoreCompleted:
		if lostWrites(e) {
			return fmt.Sprintf("%s was restored but acknowledged writes were LOST", where)
		}
		return fmt.Sprintf("%s was restored automatically from a backup", where)
	case events.DrillFailed:
		return fmt.Sprintf("restore drill of %s failed: its backup may not restore", where)
	case events.OffsiteFailed:
		return fmt.Sprintf("off-site copy of %s failed: its backup would not survive the loss of the disk", where)
	case events.CompactionFailed:
		return fmt.Sprintf("compaction of %s failed %s", where, attempts(e))
	case events.BackupFailed:
		return fmt.Sprintf("backup of %s failed", where)
	case events.VerifyFailed:
		return fmt.Sprintf("verify of %s failed", where)
	case events.RestoreFailed:
		return fmt.Sprintf("restore of %s failed", where)
	}
	return fmt.Sprintf("%s on %s", e.Type, where)
}

func attempts(e events.Event) string {
	if e.Attempt == 2 {
		return "twice"
	}
	return fmt.Sprintf("%d times", e.Attempt)
}

// place names the node and table: "table users on node n1".
func place(e events.Event) string {
	if nodeLevel(e) {
		return "node " + e.Node
	}
	return fmt.Sprintf("table %s on node %s", e.Table, e.Node)
}

func nodeLevel(e events.Event) bool { return e.Table == "" || e.Table == events.NodeTable }

// explain returns what happened, what the supervisor did and the next steps.
func explain(prefix string, e events.Event) (what, did string, next []string) {
	where := place(e)
	status := cmd(prefix, e, events.VerbStatus, "''")
	switch e.Type {
	case events.TableDegraded:
		what = fmt.Sprintf("The %s is DEGRADED: it could not be repaired automatically and answers every read and write with table_unavailable", where)
		switch {
		case nodeStopped(e):
			what += fmt.Sprintf(".\nIt is a CRITICAL table with on_unrecoverable: stop, so the WHOLE NODE %s STOPPED SERVING DATA: every table of the node answers reads and writes with table_unavailable (clients should fail over); restore, salvage and status still work. It stays so, also across restarts, until this table is restored or salvaged (or its policy changed). /healthz and the node status report the node failing", e.Node)
		case criticalTable(e):
			what += fmt.Sprintf(".\nIt is a CRITICAL table: /healthz and the node status report node %s failing; the node's other tables keep serving", e.Node)
		}
		did = "it stopped serving the table, moved the damaged files aside (" + quarantineOf(e) + ", never deleted) and " + triedOf(e) + "."
		next = []string{
			"See the table's state: " + status,
			"Salvage what the damaged files still hold (rebuilds the table, may lose records): " + cmd(prefix, e, events.VerbSalvage, "''"),
			"Or restore a backup you trust, if there is one: " + cmd(prefix, e, events.VerbRestore, `'{"backup_id":"<id>","wait":true}'`),
			"Then check it: " + cmd(prefix, e, events.VerbVerify, `'{"wait":true}'`),
		}
	case events.RestoreCompleted:
		if lostWrites(e) {
			what, did, next = explainLostWrites(prefix, e)
			break
		}
		what = fmt.Sprintf("The %s was damaged and the supervisor restored it on its own%s; the table serves reads and writes again", where, fromBackup(e))
		did = "it detected the damage, moved the damaged files aside (" + quarantineOf(e) + ", never deleted) and restored the newest good backup."
		next = []string{
			"Check the restored table: " + cmd(prefix, e, events.VerbVerify, `'{"wait":true}'`),
			"If the writes named above matter, recover them from the quarantined copy or the clients that made them.",
			"Take a fresh backup: " + cmd(prefix, e, events.VerbBackup, `'{"wait":true}'`),
			"Find out why the files were damaged (disk errors in the kernel log, full disk, power loss).",
		}
	case events.CompactionFailed:
		what = fmt.Sprintf("Compaction of the %s failed %s in a row", where, attempts(e))
		did = "it retried the compaction once and then stopped; the table still serves reads and writes, but its dead space is not reclaimed."
		next = []string{
			"Check free disk space and the table's state: " + status,
			"Check the table for damage: " + cmd(prefix, e, events.VerbVerify, `'{"wait":true}'`),
			"Retry: " + cmd(prefix, e, events.VerbCompact, `'{"force":true,"wait":true}'`),
		}
	case events.BackupFailed:
		what = fmt.Sprintf("A backup of the %s failed", where)
		did = "it kept every earlier backup and the table still serves; no new backup exists until one succeeds."
		next = []string{
			"Check free disk space under backups/ in the supervisor's data directory, and the table: " + status,
			"Retry: " + cmd(prefix, e, events.VerbBackup, `'{"wait":true}'`),
		}
	case events.VerifyFailed:
		what = fmt.Sprintf("Verifying the %s failed: the table or its backup may be damaged", where)
		did = "on damage it restores the newest good backup automatically; watch for a restore.completed or table.degraded notification."
		next = []string{
			"See the table's state: " + status,
			"Verify again: " + cmd(prefix, e, events.VerbVerify, `'{"wait":true}'`),
			"If it stays damaged, restore: " + cmd(prefix, e, events.VerbRestore, `'{"wait":true}'`),
		}
	case events.RestoreFailed:
		what, did, next = explainRestoreFailed(prefix, e)
	case events.OffsiteFailed:
		what = fmt.Sprintf("The off-site copy of a backup of the %s failed after its retries%s: the backup is on the node's disk only, and a lost disk would lose it", where, fromBackup(e))
		did = "it kept the local backup and went on serving; the journal keeps shipping on its own and the next backup is copied again."
		next = []string{
			"See the table's state (journal_lag_ms, offsite_error in its stats): " + status,
			"Check the NATS cluster and the bucket: nats object info CUSTODIAN_BACKUPS",
			"Take a backup now, which copies it again: " + cmd(prefix, e, events.VerbBackup, `'{"wait":true}'`),
		}
	case events.DrillFailed:
		what = fmt.Sprintf("A restore drill of the %s failed%s: the newest backup plus the journal did not restore to what the table holds. A backup that cannot restore is an incident: if the table were damaged now, a restore might not bring it back", where, fromBackup(e))
		did = "it kept serving the table's live data, changed nothing and removed the drill's scratch copy; every backup and the journal are kept as they are."
		next = []string{
			"Look at the table's backups (the status lists them, newest first): " + status,
			"Check the live table: " + cmd(prefix, e, events.VerbVerify, `'{"wait":true}'`),
			"Take a fresh backup: " + cmd(prefix, e, events.VerbBackup, `'{"wait":true}'`),
			"Then drill again, to prove the new backup restores: " + cmd(prefix, e, events.VerbDrill, `'{"wait":true}'`),
			"Read the table's journal on its node: supervisor journal --data <data dir> " + e.Table,
			"Find out why the backup or journal was bad (disk errors in the kernel log, full disk).",
		}
	default:
		what = fmt.Sprintf("%s on the %s", e.Type, where)
		did = "nothing beyond publishing this event."
		next = []string{"See the state: " + status}
	}
	return what, did, next
}

// explainRestoreFailed tells the four endings of a restore.failed apart:
// a failed salvage (data.method "salvage"), one bad backup with an older one
// tried next (data.trying_next), a restore that ended while the table keeps
// serving its current data (data.serving: salvage needs force there and
// replaces that data), and a restore that ended with the table unavailable
// (salvage with an empty body works there).
func explainRestoreFailed(prefix string, e events.Event) (what, did string, next []string) {
	where := place(e)
	status := cmd(prefix, e, events.VerbStatus, "''")
	restoreID := "Restore a backup you trust by its id (the status lists them): " + cmd(prefix, e, events.VerbRestore, `'{"backup_id":"<id>","wait":true}'`)
	switch {
	case dataString(e, "method") == "salvage":
		what = fmt.Sprintf("Salvaging the %s failed", where)
		did = "it put the table back in the state it had before the salvage (serving its data, or unavailable if it was degraded) and kept every quarantined copy (" + quarantineOf(e) + ") and every backup."
		next = []string{
			"See the table's state and its backups: " + status,
			restoreID,
			"If the table serves, check it: " + cmd(prefix, e, events.VerbVerify, `'{"wait":true}'`),
		}
	case dataBool(e, "trying_next"):
		what = fmt.Sprintf("Restoring the %s%s failed; the supervisor is now trying the next older backup", where, fromBackup(e))
		did = "it kept that backup and the damaged files (" + quarantineOf(e) + ") and moved on to the next older backup; a restore.completed (warning) or table.degraded (critical) notification follows. The table does not serve meanwhile."
		next = []string{
			"Nothing to do yet: wait for the outcome of the restore, or watch it: " + status,
			"Later, find out why this backup was bad (disk errors in the kernel log, full disk); the supervisor keeps it as it is.",
		}
	case dataBool(e, "serving"):
		what = fmt.Sprintf("A restore of the %s failed%s: no backup could be restored. The table still serves its current data; the restore replaced nothing", where, fromBackup(e))
		did = "it kept serving the table's current data and kept every backup; nothing was moved or deleted."
		next = []string{
			"See the table's state and its backups: " + status,
			"Check the current data: " + cmd(prefix, e, events.VerbVerify, `'{"wait":true}'`),
			restoreID,
			`Last resort only: salvage REPLACES the table's current data with what can be read from its newest quarantined copy (the data an earlier restore or degrade moved aside), so every write since then is lost: ` + cmd(prefix, e, events.VerbSalvage, `'{"force":true}'`),
		}
	default:
		what = fmt.Sprintf("Restoring the %s failed%s; the table does not serve", where, fromBackup(e))
		did = "it kept the damaged files (" + quarantineOf(e) + ") and every backup; when no good backup is left the table is degraded (a table.degraded notification follows). The table stays unavailable until a restore or salvage succeeds."
		next = []string{
			"See the table's state and its backups: " + status,
			restoreID,
			"Or salvage what the damaged files still hold (may lose records): " + cmd(prefix, e, events.VerbSalvage, "''"),
		}
	}
	return what, did, next
}

// explainLostWrites tells a restore.completed with data.lost: which
// acknowledged writes are gone (data.lost_reason names the journal file and
// offset) and up to when the table came back (data.recovered_to).
func explainLostWrites(prefix string, e events.Event) (what, did string, next []string) {
	where := place(e)
	how := "automatically"
	if e.Trigger != events.TriggerAuto {
		how = "by a " + e.Trigger + " restore"
		if e.Trigger == "" {
			how = "by a restore"
		}
	}
	what = fmt.Sprintf("The %s was restored %s%s, but ACKNOWLEDGED WRITES WERE LOST: clients were told these writes were stored, and they are not in the restored table.\nWhere: %s\n%s",
		where, how, fromBackup(e), orUnknown(dataString(e, "lost_reason")), recoveredTo(e))
	did = fmt.Sprintf("it restored the backup, replayed the journal up to the damage (%s) and serves the table again; it kept the state it replaced (%s, never deleted) and the journal files as they are.", journalCount(e), quarantineOf(e))
	next = []string{
		"Tell the owners of the data: writes acknowledged after the recovered-to time above are missing.",
		"Read what the damaged journal still holds, on the table's node: supervisor journal --data <data dir> " + e.Table,
		"Recover the missing writes from the clients that made them or from the kept copy (" + quarantineOf(e) + ").",
		"Check the restored table: " + cmd(prefix, e, events.VerbVerify, `'{"wait":true}'`),
		"Take a fresh backup: " + cmd(prefix, e, events.VerbBackup, `'{"wait":true}'`),
		"Find out why the journal was damaged (disk errors in the kernel log, full disk, power loss).",
	}
	return what, did, next
}

// recoveredTo says up to when a restore brought the table back.
func recoveredTo(e events.Event) string {
	if t := dataString(e, "recovered_to"); t != "" {
		return "The table was recovered up to the write of " + t + " (the last write replayed); every acknowledged write after it is missing"
	}
	return "Recovered to: the backup alone (no write of the journal could be replayed); every acknowledged write after the backup is missing"
}

// journalCount is "N journal writes replayed" from data.journal_records.
func journalCount(e events.Event) string {
	n, ok := events.Integer(e.Data, "journal_records")
	if !ok {
		return "journal writes replayed: not reported"
	}
	return fmt.Sprintf("%d journal %s replayed", n, plural(int(n), "write", "writes"))
}

func orUnknown(s string) string {
	if s == "" {
		return "not reported"
	}
	return s
}

func dataBool(e events.Event, key string) bool {
	v, _ := e.Data[key].(bool)
	return v
}

// cmd is the nats CLI command that sends verb to the event's table (or node).
func cmd(prefix string, e events.Event, verb, body string) string {
	if nodeLevel(e) {
		return fmt.Sprintf("nats req %s %s", events.NodeSubject(prefix, e.Node, verb), body)
	}
	return fmt.Sprintf("nats req %s %s", events.CmdSubject(prefix, e.Table, verb), body)
}

// quarantineOf names where the damaged files went: data.quarantine, or the
// contract's quarantine/<table>/ directory.
func quarantineOf(e events.Event) string {
	if q := dataString(e, "quarantine"); q != "" {
		return q
	}
	return "quarantine/" + e.Table + "/ in the supervisor's data directory"
}

// triedOf tells which backups a failed automatic restore tried (data.tried).
func triedOf(e events.Event) string {
	var ids []string
	switch v := e.Data["tried"].(type) {
	case []any: // decoded JSON
		for _, x := range v {
			ids = append(ids, fmt.Sprint(x))
		}
	case []string: // built in process
		ids = v
	}
	if len(ids) == 0 {
		return "found no good backup to restore"
	}
	return fmt.Sprintf("tried %d backup(s), none good: %s", len(ids), strings.Join(ids, ", "))
}

func fromBackup(e events.Event) string {
	if id := dataString(e, "backup_id"); id != "" {
		return " from backup " + id
	}
	return ""
}

// reasonOf is the event's error, or its data.reason.
func reasonOf(e events.Event) string {
	if e.Error != "" {
		return e.Error
	}
	return dataString(e, "reason")
}

// lossWindow describes the writes a restore could not bring back, from
// data.backup_age_ms.
func lossWindow(e events.Event) string {
	age, ok := dataMillis(e, "backup_age_ms")
	_, journaled := e.Data["lost"].(bool)
	switch {
	case e.Type == events.RestoreCompleted && lostWrites(e):
		return "every acknowledged write after the recovered-to time (see above) is NOT in the restored table."
	case e.Type == events.RestoreCompleted && journaled:
		if t := dataString(e, "recovered_to"); t != "" {
			return fmt.Sprintf("none: the journal brought back every acknowledged write after the backup (%s, the last of %s).", journalCount(e), t)
		}
		return fmt.Sprintf("none: the journal brought back every acknowledged write after the backup (%s).", journalCount(e))
	case e.Type == events.DrillFailed:
		return "unknown until a drill passes: a restore now may not bring the table back as it is (the live table itself is untouched)."
	case ok && e.Type == events.RestoreCompleted:
		return fmt.Sprintf("the writes of the last %s before the damage (the restored backup was that old) are NOT in the restored table.", age)
	case ok:
		return fmt.Sprintf("the newest good backup is %s old: a restore now would lose the writes of the last %s.", age, age)
	case e.Type == events.CompactionFailed:
		return "none known: a failed compaction loses no data by itself; no backup age was reported."
	case e.Type == events.TableDegraded:
		return "possibly every write: no good backup could be restored. Salvage recovers what the damaged files still hold."
	}
	return "unknown: no backup age was reported (there may be no backup at all; then a restore brings back nothing)."
}

// details lists the event's data figures, sorted by key.
func details(e events.Event) string {
	keys := make([]string, 0, len(e.Data))
	for k := range e.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := e.Data[k]
		if f, ok := v.(float64); ok && f == float64(int64(f)) {
			v = int64(f) // JSON numbers: 5400000, not 5.4e+06
		}
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	return strings.Join(parts, ", ")
}

func dataString(e events.Event, key string) string {
	if v, ok := e.Data[key].(string); ok {
		return v
	}
	return ""
}

// dataMillis reads a number of milliseconds (JSON numbers decode as
// float64; events built in-process may hold ints) as a rounded duration.
func dataMillis(e events.Event, key string) (time.Duration, bool) {
	var ms float64
	switch v := e.Data[key].(type) {
	case float64:
		ms = v
	case int:
		ms = float64(v)
	case int64:
		ms = float64(v)
	default:
		return 0, false
	}
	if ms < 0 {
		return 0, false
	}
	d := time.Duration(ms * float64(time.Millisecond))
	switch {
	case d >= time.Hour:
		d = d.Round(time.Minute)
	case d >= time.Minute:
		d = d.Round(time.Second)
	default:
		d = d.Round(time.Millisecond)
	}
	return d, true
}

// renderDigest builds one notification that lists every note of a burst.
func renderDigest(prefix string, notes []Notification, window time.Duration) Notification {
	ids := make([]string, 0, len(notes))
	severity := SeverityWarning
	counts := map[string]int{}
	var evs []events.Event
	for _, n := range notes {
		ids = append(ids, n.ID)
		if severityRank(n.Severity) > severityRank(severity) {
			severity = n.Severity
		}
		for _, e := range n.Events {
			counts[e.Type]++
			evs = append(evs, e)
		}
	}
	sort.Strings(ids)
	sum := sha256.Sum256([]byte(strings.Join(ids, ",")))
	types := make([]string, 0, len(counts))
	for t := range counts {
		types = append(types, t)
	}
	sort.Strings(types)
	summary := make([]string, 0, len(types))
	for _, t := range types {
		summary = append(summary, fmt.Sprintf("%d %s", counts[t], t))
	}

	var b strings.Builder
	fmt.Fprintf(&b, "%d notifications arrived within %s; they are grouped here so that you get one page, not %d.\n", len(notes), window, len(notes))
	for _, g := range groupDigest(notes) {
		fmt.Fprintf(&b, "\n%s (%s) on node %s: %d %s\n", g.what, g.severity, g.node, len(g.places), plural(len(g.places), "table", "tables"))
		fmt.Fprintf(&b, "  %s\n", strings.Join(g.places, ", "))
		for _, r := range g.reasons {
			fmt.Fprintf(&b, "  error (%d): %s\n", r.n, r.text)
		}
		if g.maxAge > 0 {
			fmt.Fprintf(&b, "  newest backup up to %s old: a restore loses up to that much of the writes\n", g.maxAge)
		}
	}
	b.WriteString("\nWhat to do next:\n")
	if counts[events.TableDegraded] > 0 {
		fmt.Fprintf(&b, "  - each DEGRADED table: salvage it (nats req %s '') or restore it (nats req %s '')\n",
			events.CmdSubject(prefix, "<table>", events.VerbSalvage), events.CmdSubject(prefix, "<table>", events.VerbRestore))
	}
	if counts[events.RestoreCompleted] > 0 {
		fmt.Fprintf(&b, "  - each restored table: verify it (nats req %s '{\"wait\":true}')\n", events.CmdSubject(prefix, "<table>", events.VerbVerify))
	}
	if counts[events.DrillFailed] > 0 {
		fmt.Fprintf(&b, "  - each table whose drill failed: look at its backups (nats req %s ''), take a fresh backup and drill again (nats req %s '{\"wait\":true}')\n",
			events.CmdSubject(prefix, "<table>", events.VerbStatus), events.CmdSubject(prefix, "<table>", events.VerbDrill))
	}
	b.WriteString("  - many tables at once usually means one cause: check the disk (free space, kernel log) of the nodes named above\n")
	fmt.Fprintf(&b, "  - every event in full: nats stream view %s\n", events.StreamName)

	return Notification{
		ID:       "digest-" + hex.EncodeToString(sum[:16]),
		Severity: severity,
		Title:    fmt.Sprintf("%s: %d custodian notifications (%s)", strings.ToUpper(severity), len(notes), strings.Join(summary, ", ")),
		Message:  b.String(),
		Tags:     []string{severityTag(severity), "digest"},
		Events:   evs,
		Digest:   true,
	}
}

// digestGroup is one line of a digest: one event type on one node.
type digestGroup struct {
	what, severity, node string
	places               []string
	reasons              []reasonCount
	maxAge               time.Duration
}

type reasonCount struct {
	text string
	n    int
}

// groupDigest groups a digest's events by type and node, in order of
// first appearance, with their distinct errors (at most three per group).
func groupDigest(notes []Notification) []*digestGroup {
	var groups []*digestGroup
	index := map[string]*digestGroup{}
	for _, n := range notes {
		for _, e := range n.Events {
			k := digestWhat(e) + " " + e.Node
			g := index[k]
			if g == nil {
				g = &digestGroup{what: digestWhat(e), severity: n.Severity, node: e.Node}
				index[k] = g
				groups = append(groups, g)
			}
			table := e.Table
			if nodeLevel(e) {
				table = "(node)"
			}
			g.places = append(g.places, table)
			if age, ok := dataMillis(e, "backup_age_ms"); ok && age > g.maxAge {
				g.maxAge = age
			}
			r := reasonOf(e)
			if len(r) > 160 {
				r = r[:160] + "..."
			}
			if r == "" {
				continue
			}
			found := false
			for i := range g.reasons {
				if g.reasons[i].text == r {
					g.reasons[i].n++
					found = true
				}
			}
			if !found && len(g.reasons) < 3 {
				g.reasons = append(g.reasons, reasonCount{text: r, n: 1})
			}
		}
	}
	return groups
}

func digestWhat(e events.Event) string {
	switch e.Type {
	case events.TableDegraded:
		switch {
		case nodeStopped(e):
			return "CRITICAL table DEGRADED, the whole node STOPPED serving data"
		case criticalTable(e):
			return "CRITICAL table DEGRADED, node failing"
		}
		return "DEGRADED, unavailable"
	case events.RestoreCompleted:
		if lostWrites(e) {
			return "restored, acknowledged writes LOST"
		}
		return "restored automatically from a backup"
	case events.DrillFailed:
		return "restore drill failed"
	case events.OffsiteFailed:
		return "off-site copy failed"
	case events.CompactionFailed:
		return "compaction failed after its retry"
	case events.BackupFailed:
		return "backup failed"
	case events.VerifyFailed:
		return "verify failed"
	case events.RestoreFailed:
		return "restore failed"
	}
	return e.Type
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
