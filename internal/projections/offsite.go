package projections

import (
	"time"

	"github.com/custodian-dev/custodian/internal/events"
)

// OffsiteCopy is the last backup of a table copied off-site (a
// backup.completed whose data has offsite_bytes).
type OffsiteCopy struct {
	Time        time.Time `json:"time"`
	Seq         uint64    `json:"seq"`
	EventID     string    `json:"event_id"`
	BackupID    string    `json:"backup_id,omitempty"`
	Bytes       int64     `json:"bytes"`        // data.offsite_bytes: stored by this copy
	ReusedBytes int64     `json:"reused_bytes"` // data.offsite_reused_bytes: files the bucket already held
}

// Offsite is the off-site state of a table on its card (supervisor
// --offsite on): nil while no event said anything about it.
type Offsite struct {
	LastCopy *OffsiteCopy `json:"last_copy,omitempty"`
	// LastFailure is the last offsite.failed (a backup whose copy failed
	// every try: it is on the node's disk only); a later copy clears it.
	LastFailure *Outcome `json:"last_failure,omitempty"`
	// JournalLagMS is data.journal_lag_ms of the last periodic table.stats
	// that had it: the age of the oldest journal record not yet in the
	// stream CUSTODIAN_JOURNAL (0: caught up). Error is its
	// data.offsite_error: why shipping fails ("" while it works).
	JournalLagMS *int64    `json:"journal_lag_ms,omitempty"`
	Error        string    `json:"error,omitempty"`
	StatsTime    time.Time `json:"stats_time,omitzero"`
}

func (o *Offsite) clone() *Offsite {
	if o == nil {
		return nil
	}
	c := *o
	if o.LastCopy != nil {
		lc := *o.LastCopy
		c.LastCopy = &lc
	}
	c.LastFailure = cloneOutcome(o.LastFailure)
	if o.JournalLagMS != nil {
		v := *o.JournalLagMS
		c.JournalLagMS = &v
	}
	return &c
}

func (c *Card) offsite() *Offsite {
	if c.Offsite == nil {
		c.Offsite = &Offsite{}
	}
	return c.Offsite
}

// applyOffsite takes the off-site parts of an event: the copy of a
// backup.completed, an offsite.failed, the lag of a periodic table.stats.
func (c *Card) applyOffsite(seq uint64, e events.Event) {
	switch e.Type {
	case events.BackupCompleted:
		stored, ok := events.Integer(e.Data, "offsite_bytes")
		if !ok {
			return // off-site off, or the copy failed (offsite.failed follows)
		}
		reused, _ := events.Integer(e.Data, "offsite_reused_bytes")
		o := c.offsite()
		o.LastCopy = &OffsiteCopy{Time: e.Time, Seq: seq, EventID: e.ID, BackupID: text(e.Data, "backup_id"), Bytes: stored, ReusedBytes: reused}
		o.LastFailure = nil
	case events.OffsiteFailed:
		c.offsite().LastFailure = &Outcome{
			Time: e.Time, Seq: seq, EventID: e.ID, CommandID: e.CommandID, Trigger: e.Trigger,
			Result: resultOf(e), DurationMS: e.DurationMS, Error: e.Error,
			Reason: text(e.Data, "reason"), BackupID: text(e.Data, "backup_id"),
		}
	case events.TableStats:
		if _, periodic := e.Data["bytes"]; !periodic {
			return // a progress report or a failed read says nothing of it
		}
		lag, ok := events.Integer(e.Data, "journal_lag_ms")
		if !ok {
			if c.Offsite != nil {
				// The supervisor runs without off-site copies now.
				c.Offsite.JournalLagMS, c.Offsite.Error = nil, ""
			}
			return
		}
		o := c.offsite()
		o.JournalLagMS = &lag
		o.Error = text(e.Data, "offsite_error")
		o.StatsTime = e.Time
	}
}
