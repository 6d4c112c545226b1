package tables

import (
	"encoding/json"
	"time"
)

// Progress receives figures while long work goes on: done and total in the
// unit named (e.g. "records", "bytes"). total is 0 when it is not known.
type Progress func(done, total int64, unit string)

// Mode is a compaction mode.
type Mode string

// Compaction modes.
const (
	ModeAuto    Mode = "auto"
	ModeNative  Mode = "native"
	ModeRewrite Mode = "rewrite"
)

// Op is one operation of an atomic batch.
type Op struct {
	Op    string          `json:"op"` // "put" or "delete"
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value,omitempty"`
}

// Item is a key and its value.
type Item struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// ScanResult is a page of a scan.
type ScanResult struct {
	Items []Item `json:"items"`
	Next  string `json:"next,omitempty"`
}

// Stats describes a table.
type Stats struct {
	Bytes       int64   `json:"bytes"`        // on disk
	Records     int64   `json:"records"`      // live records: an estimate, recounted at an open after an unclean stop and corrected by Verify
	DeadRecords int64   `json:"dead_records"` // overwrites and deletes since the last rewrite
	DeadRatio   float64 `json:"dead_ratio"`   // dead / (live + dead)
	DeadBytes   int64   `json:"dead_bytes"`   // estimate
}

// CompactResult is the outcome of a compaction.
type CompactResult struct {
	Mode        Mode    `json:"mode"`
	BytesBefore int64   `json:"bytes_before"`
	BytesAfter  int64   `json:"bytes_after"`
	Records     int64   `json:"records"`
	DeadRatio   float64 `json:"dead_ratio"` // the estimate before compaction
	PauseMS     float64 `json:"pause_ms"`   // longest write pause (rewrite swap)
}

// Manifest is a backup's manifest.json.
type Manifest struct {
	ID      string    `json:"id"`
	Table   string    `json:"table"`
	Created time.Time `json:"created"` // RFC 3339 in JSON
	Records int64     `json:"records"`
	Bytes   int64     `json:"bytes"`  // size on disk of the backup's database files
	Digest  string    `json:"digest"` // see Digester for the exact encoding
	// Position is where in the table's change journal the backup stands:
	// the goleveldb sequence number of the last write it holds (see
	// position.go); absent in backups taken before positions were kept,
	// and when the position was not known (PositionError says why).
	Position      *uint64 `json:"position,omitempty"`
	PositionError string  `json:"position_error,omitempty"`
	// Files are the backup's database files with their size and SHA-256
	// (absent in backups taken before backups were file-level).
	Files []BackupFile `json:"files,omitempty"`
	// CopiedBytes were copied by this backup; ReusedBytes are table files
	// an earlier backup had copied (shared, not copied again).
	CopiedBytes int64 `json:"copied_bytes,omitempty"`
	ReusedBytes int64 `json:"reused_bytes,omitempty"`
}

// VerifyResult is the outcome of a strict scan.
type VerifyResult struct {
	Records int64  `json:"records"`
	Bytes   int64  `json:"bytes"` // logical bytes read: the sum of key and value lengths
	Digest  string `json:"digest"`
}

// RestoreResult is the outcome of a restore from a backup.
type RestoreResult struct {
	BackupID  string        `json:"backup_id"`
	Records   int64         `json:"records"`
	BackupAge time.Duration `json:"backup_age"`
	// Quarantined is the directory the replaced table moved to, "" when
	// there was no live directory (already quarantined).
	Quarantined string `json:"quarantined,omitempty"`
	// The journal replayed after the backup's position (replay.go).
	JournalRecords int64     `json:"journal_records"`
	Position       uint64    `json:"position"`              // the position the table was restored to
	RecoveredTo    time.Time `json:"recovered_to,omitzero"` // time of the last write replayed
	// Lost: acknowledged writes could not be brought back; LostReason says
	// which (the journal's damage or gap, or a backup without position).
	Lost       bool   `json:"lost,omitempty"`
	LostReason string `json:"lost_reason,omitempty"`
}

// RestoreOptions say what a restore brings back.
type RestoreOptions struct {
	// At, when not zero, restores the table to its state as of that time:
	// the journal is replayed up to it (the backup must be from before it).
	At time.Time
}

// SalvageResult is the outcome of a salvage.
type SalvageResult struct {
	Source  string `json:"source"` // the quarantined copy it came from
	Records int64  `json:"records"`
}
