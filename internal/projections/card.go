package projections

import (
	"maps"
	"strings"
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// Card states.
const (
	StateOK         = "ok"
	StateCompacting = "compacting"
	StateBackingUp  = "backing_up"
	StateVerifying  = "verifying"
	StateRestoring  = "restoring"
	StateDegraded   = "degraded"
	// StateDiskFull: the table serves reads, but its writes fail for lack
	// of disk space (table.stats data.writes "failing", writes_code
	// no_space) until space is freed; not a failure of the table.
	StateDiskFull = "disk_full"
	// StateWritesFailing: writes fail with another error (an I/O error).
	StateWritesFailing = "writes_failing"
)

// States lists every card state.
func States() []string {
	return []string{StateOK, StateCompacting, StateBackingUp, StateVerifying, StateRestoring, StateDegraded, StateDiskFull, StateWritesFailing}
}

// operationState maps an event type's operation (the part before the dot)
// to the state a table is in while that operation runs.
func operationState(op string) string {
	switch op {
	case "compaction":
		return StateCompacting
	case "backup":
		return StateBackingUp
	case "verify":
		return StateVerifying
	case "restore":
		return StateRestoring
	}
	return ""
}

// Outcome is the end of one piece of work on a table.
type Outcome struct {
	Time       time.Time `json:"time"`
	Seq        uint64    `json:"seq"`
	EventID    string    `json:"event_id"`
	CommandID  string    `json:"command_id,omitempty"`
	Trigger    string    `json:"trigger,omitempty"`
	Result     string    `json:"result"`
	DurationMS int64     `json:"duration_ms"`
	Error      string    `json:"error,omitempty"`
	Reason     string    `json:"reason,omitempty"`
	Records    int64     `json:"records,omitempty"`
	// Compaction figures.
	Mode           string `json:"mode,omitempty"`
	BytesBefore    int64  `json:"bytes_before,omitempty"`
	BytesAfter     int64  `json:"bytes_after,omitempty"`
	BytesReclaimed int64  `json:"bytes_reclaimed,omitempty"`
	// Backup and restore figures.
	BackupID    string `json:"backup_id,omitempty"`
	Bytes       int64  `json:"bytes,omitempty"`
	BackupAgeMS int64  `json:"backup_age_ms,omitempty"`
	// Restore and drill figures: the journal's writes replayed after the
	// backup and the time of the last of them; a restore's lost writes
	// (acknowledged writes it could not bring back, and where),
	// its point in time and where the state it replaced went.
	JournalRecords int64     `json:"journal_records,omitempty"`
	RecoveredTo    time.Time `json:"recovered_to,omitzero"`
	Digest         string    `json:"digest,omitempty"`
	Lost           bool      `json:"lost,omitempty"`
	LostReason     string    `json:"lost_reason,omitempty"`
	At             time.Time `json:"at,omitzero"`
	Quarantine     string    `json:"quarantine,omitempty"`
}

// Card is the health card of one table on one node.
type Card struct {
	Node        string    `json:"node"`
	Table       string    `json:"table"`
	State       string    `json:"state"`
	StateSince  time.Time `json:"state_since"`
	Reason      string    `json:"reason,omitempty"` // why the table is degraded
	Created     time.Time `json:"created,omitzero"`
	Bytes       int64     `json:"bytes"`
	Records     int64     `json:"records"`
	DeadRecords int64     `json:"dead_records"`
	DeadRatio   float64   `json:"dead_ratio"`
	DeadBytes   int64     `json:"dead_bytes"`
	Queue       int64     `json:"queue"` // commands waiting, from table.stats
	StatsTime   time.Time `json:"stats_time,omitzero"`
	// Writes is "ok" or "failing" (table.stats data.writes; "" before a
	// table.stats said); while failing, WritesCode (no_space: the disk is
	// full), WritesError and WritesSince say why and since when.
	Writes      string    `json:"writes,omitempty"`
	WritesCode  string    `json:"writes_code,omitempty"`
	WritesError string    `json:"writes_error,omitempty"`
	WritesSince time.Time `json:"writes_since,omitzero"`

	LastCompaction  *Outcome `json:"last_compaction"`
	LastBackup      *Outcome `json:"last_backup"`         // last successful backup
	LastBackupError *Outcome `json:"last_backup_failure"` // last failed backup, cleared by a success
	LastVerify      *Outcome `json:"last_verify"`
	LastRestore     *Outcome `json:"last_restore"`
	LastDrill       *Outcome `json:"last_drill"`
	// RecoverableTo is recovered_to of the last drill.completed: a
	// restore now is proven to bring the table back at least to then.
	RecoverableTo time.Time `json:"recoverable_to,omitzero"`

	// Critical: the table's policy says it is critical (table.stats or
	// table.degraded data.critical); OnUnrecoverable is what its node does
	// when it ends degraded ("degrade" or "stop", from table.degraded).
	Critical        bool   `json:"critical,omitempty"`
	OnUnrecoverable string `json:"on_unrecoverable,omitempty"`

	// Offsite is the table's off-site copies (offsite.go); absent while
	// no event spoke of them.
	Offsite *Offsite `json:"offsite,omitempty"`

	// Next holds the next scheduled work that events announced, by
	// operation: data.next_compaction -> "compaction".
	Next map[string]time.Time `json:"next,omitempty"`
	// Counters counts the events of this table by type, among those the
	// projection read: the newest HistoryLimit of the stream (and the
	// newest StatsLimit table.stats) at start, and every one since.
	Counters map[string]uint64 `json:"counters"`

	LastEvent time.Time `json:"last_event"`
	LastSeq   uint64    `json:"last_seq"` // of CUSTODIAN_EVENTS

	busy     string // state of the running operation, "" when idle
	degraded bool
	// sizesAt is the time of the event the sizes (Bytes, Records) come
	// from: an older event does not take them back (the two streams are
	// read side by side, so a table.stats can arrive after a compaction
	// that followed it, or the other way round).
	sizesAt time.Time
}

// clone returns a deep copy safe to hand out of the lock.
func (c *Card) clone() Card {
	out := *c
	out.LastCompaction = cloneOutcome(c.LastCompaction)
	out.LastBackup = cloneOutcome(c.LastBackup)
	out.LastBackupError = cloneOutcome(c.LastBackupError)
	out.LastVerify = cloneOutcome(c.LastVerify)
	out.LastRestore = cloneOutcome(c.LastRestore)
	out.LastDrill = cloneOutcome(c.LastDrill)
	out.Offsite = c.Offsite.clone()
	out.Next = maps.Clone(c.Next)
	out.Counters = maps.Clone(c.Counters) // never nil: newCard makes it
	return out
}

func cloneOutcome(o *Outcome) *Outcome {
	if o == nil {
		return nil
	}
	c := *o
	return &c
}

func newCard(node, table string, t time.Time) *Card {
	return &Card{Node: node, Table: table, State: StateOK, StateSince: t, Counters: map[string]uint64{}}
}

// apply counts and folds one event of this card's table into the card.
func (c *Card) apply(seq uint64, e events.Event) {
	c.Counters[e.Type]++
	c.fold(seq, e)
}

// fold takes what one event of this card's table says into the card,
// without counting it (a card recovered from the newest event of each
// subject counts only the events it reads after).
func (c *Card) fold(seq uint64, e events.Event) {
	if e.Time.After(c.LastEvent) {
		c.LastEvent = e.Time
	}
	c.LastSeq = seq
	c.applyNext(e)
	c.applyOffsite(seq, e)

	op, phase, _ := strings.Cut(e.Type, ".")
	switch e.Type {
	case events.TableCreated:
		if c.Created.IsZero() {
			c.Created = e.Time
		}
	case events.TableStats:
		c.applyStats(e)
	case events.TableDegraded, events.CorruptionDetected:
		if e.Type == events.TableDegraded {
			c.applyCritical(e)
		}
		c.degraded = true
		c.Reason = firstNonEmpty(e.Error, text(e.Data, "reason"), e.Type)
		if e.Type == events.TableDegraded && c.busy == StateRestoring {
			c.busy = "" // the restore gave up
		}
	case events.TableRecovered:
		c.degraded = false
		c.Reason = ""
		if c.busy == StateRestoring {
			c.busy = ""
		}
		if v, ok := events.Integer(e.Data, "records"); ok && !e.Time.Before(c.sizesAt) {
			c.Records = v
			c.sizesAt = e.Time
		}
	}

	if op == "drill" && isEnd(phase) {
		// A drill works on a scratch copy: the table keeps its state.
		c.applyOutcome(seq, op, e)
	}
	if st := operationState(op); st != "" {
		switch phase {
		case "started":
			c.busy = st
		case "completed", "failed", "skipped":
			// A restore tries backups newest first and reports each one
			// that fails; one followed by another try carries
			// data.trying_next, and the restore goes on.
			if c.busy == st && !tryingNext(e) {
				c.busy = ""
			}
			c.applyOutcome(seq, op, e)
		}
	}
	c.setState(e.Time)
}

func (c *Card) applyStats(e events.Event) {
	if e.Time.Before(c.StatsTime) {
		return // an older one than the card holds
	}
	if !e.Time.Before(c.sizesAt) {
		c.takeSizes(e)
	}
	if v, ok := events.Integer(e.Data, "dead_records"); ok {
		c.DeadRecords = v
	}
	if v, ok := events.Number(e.Data, "dead_ratio"); ok {
		c.DeadRatio = v
	}
	if v, ok := events.Integer(e.Data, "dead_bytes"); ok {
		c.DeadBytes = v
	}
	if v, ok := events.Integer(e.Data, "queue"); ok {
		c.Queue = v
	}
	c.applyWrites(e)
	if _, sized := e.Data["bytes"]; sized {
		// The periodic figures say whether the table is critical (a
		// policy changed back drops the field); progress reports and
		// failed reads do not.
		c.Critical = false
	}
	c.applyCritical(e)
	c.StatsTime = e.Time
}

// takeSizes takes data.bytes and data.records, when there.
func (c *Card) takeSizes(e events.Event) {
	b, okB := events.Integer(e.Data, "bytes")
	r, okR := events.Integer(e.Data, "records")
	if okB {
		c.Bytes = b
	}
	if okR {
		c.Records = r
	}
	if okB || okR {
		c.sizesAt = e.Time
	}
}

// applyCritical takes data.critical and data.on_unrecoverable.
func (c *Card) applyCritical(e events.Event) {
	if v, ok := e.Data["critical"].(bool); ok {
		c.Critical = v
	}
	if v := text(e.Data, "on_unrecoverable"); v != "" {
		c.OnUnrecoverable = v
	}
}

// isEnd reports whether an event phase ends a piece of work.
func isEnd(phase string) bool {
	return phase == "completed" || phase == "failed" || phase == "skipped"
}

// applyWrites takes whether the table's writes work from a table.stats.
func (c *Card) applyWrites(e events.Event) {
	switch text(e.Data, "writes") {
	case "ok":
		c.Writes, c.WritesCode, c.WritesError, c.WritesSince = "ok", "", "", time.Time{}
	case "failing":
		c.Writes = "failing"
		c.WritesCode = text(e.Data, "writes_code")
		c.WritesError = text(e.Data, "writes_error")
		if t, err := time.Parse(time.RFC3339Nano, text(e.Data, "writes_since")); err == nil {
			c.WritesSince = t
		}
	}
}

func (c *Card) applyNext(e events.Event) {
	for k := range e.Data {
		name, ok := strings.CutPrefix(k, "next_")
		if !ok || name == "" {
			continue
		}
		if t, ok := timestamp(e.Data, k); ok {
			if c.Next == nil {
				c.Next = map[string]time.Time{}
			}
			c.Next[name] = t
		}
	}
}

func (c *Card) applyOutcome(seq uint64, op string, e events.Event) {
	o := &Outcome{
		Time:       e.Time,
		Seq:        seq,
		EventID:    e.ID,
		CommandID:  e.CommandID,
		Trigger:    e.Trigger,
		Result:     resultOf(e),
		DurationMS: e.DurationMS,
		Error:      e.Error,
		Reason:     text(e.Data, "reason"),
	}
	o.Records, _ = events.Integer(e.Data, "records")
	switch op {
	case "compaction":
		o.Mode = text(e.Data, "mode")
		o.BytesBefore, _ = events.Integer(e.Data, "bytes_before")
		o.BytesAfter, _ = events.Integer(e.Data, "bytes_after")
		if o.Result == events.ResultOK && o.BytesBefore > 0 {
			o.BytesReclaimed = o.BytesBefore - o.BytesAfter
			if !e.Time.Before(c.sizesAt) {
				c.Bytes = o.BytesAfter
				if o.Records > 0 {
					c.Records = o.Records
				}
				c.sizesAt = e.Time
			}
		}
		c.LastCompaction = o
	case "backup":
		o.BackupID = text(e.Data, "backup_id")
		o.Bytes, _ = events.Integer(e.Data, "bytes")
		if o.Result == events.ResultFailed {
			c.LastBackupError = o
		} else {
			c.LastBackup = o
			c.LastBackupError = nil
		}
	case "verify":
		c.LastVerify = o
	case "drill":
		o.BackupID = text(e.Data, "backup_id")
		o.applyJournal(e)
		o.Digest = text(e.Data, "digest")
		c.LastDrill = o
		if e.Type == events.DrillCompleted && o.Result == events.ResultOK && !o.RecoveredTo.IsZero() {
			c.RecoverableTo = o.RecoveredTo
		}
	case "restore":
		o.BackupID = text(e.Data, "backup_id")
		o.BackupAgeMS, _ = events.Integer(e.Data, "backup_age_ms")
		o.applyJournal(e)
		o.Lost, _ = e.Data["lost"].(bool)
		o.LostReason = text(e.Data, "lost_reason")
		o.At, _ = timestamp(e.Data, "at")
		o.Quarantine = text(e.Data, "quarantine")
		c.LastRestore = o
		if o.Result == events.ResultOK {
			c.degraded = false
			c.Reason = ""
			if o.Records > 0 && !e.Time.Before(c.sizesAt) {
				c.Records = o.Records
				c.sizesAt = e.Time
			}
		}
	}
}

// applyJournal takes data.journal_records and data.recovered_to.
func (o *Outcome) applyJournal(e events.Event) {
	o.JournalRecords, _ = events.Integer(e.Data, "journal_records")
	o.RecoveredTo, _ = timestamp(e.Data, "recovered_to")
}

// setState derives the visible state: a restore in progress shows even on
// a degraded table; degraded hides any other work.
func (c *Card) setState(t time.Time) {
	st := StateOK
	switch {
	case c.busy == StateRestoring:
		st = StateRestoring
	case c.degraded:
		st = StateDegraded
	case c.Writes == "failing" && c.WritesCode == "no_space":
		st = StateDiskFull
	case c.Writes == "failing":
		st = StateWritesFailing
	case c.busy != "":
		st = c.busy
	}
	if st != c.State {
		c.State = st
		c.StateSince = t
	}
}

// resultOf is the event's result, or the one its type implies.
func resultOf(e events.Event) string {
	if e.Result != "" {
		return e.Result
	}
	switch {
	case events.IsFailure(e.Type):
		return events.ResultFailed
	case strings.HasSuffix(e.Type, ".skipped"):
		return events.ResultSkipped
	case strings.HasSuffix(e.Type, ".completed"):
		return events.ResultOK
	}
	return ""
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// tryingNext reports a restore.failed for one bad backup after which the
// restore tries the next older one.
func tryingNext(e events.Event) bool {
	if e.Type != events.RestoreFailed {
		return false
	}
	v, _ := e.Data["trying_next"].(bool)
	return v
}
