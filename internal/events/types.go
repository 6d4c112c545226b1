package events

import "strings"

// Event types of the contract.
const (
	CommandAccepted     = "command.accepted"
	CommandRejected     = "command.rejected"
	CompactionStarted   = "compaction.started"
	CompactionCompleted = "compaction.completed"
	CompactionSkipped   = "compaction.skipped"
	CompactionFailed    = "compaction.failed"
	BackupStarted       = "backup.started"
	BackupCompleted     = "backup.completed"
	BackupFailed        = "backup.failed"
	BackupPruned        = "backup.pruned"
	VerifyCompleted     = "verify.completed"
	VerifyFailed        = "verify.failed"
	CorruptionDetected  = "corruption.detected"
	RestoreStarted      = "restore.started"
	RestoreCompleted    = "restore.completed"
	RestoreFailed       = "restore.failed"
	DrillStarted        = "drill.started"
	DrillCompleted      = "drill.completed"
	DrillFailed         = "drill.failed"
	OffsiteFailed       = "offsite.failed"
	TableCreated        = "table.created"
	TableStats          = "table.stats"
	TableDegraded       = "table.degraded"
	TableRecovered      = "table.recovered"
	NotificationSent    = "notification.sent"
	NotificationFailed  = "notification.failed"
)

// Types lists every event type of the contract.
func Types() []string {
	return []string{
		CommandAccepted, CommandRejected,
		CompactionStarted, CompactionCompleted, CompactionSkipped, CompactionFailed,
		BackupStarted, BackupCompleted, BackupFailed, BackupPruned,
		VerifyCompleted, VerifyFailed,
		CorruptionDetected,
		RestoreStarted, RestoreCompleted, RestoreFailed,
		DrillStarted, DrillCompleted, DrillFailed,
		OffsiteFailed,
		TableCreated, TableStats, TableDegraded, TableRecovered,
		NotificationSent, NotificationFailed,
	}
}

// Triggers: what started a piece of work.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
	TriggerAuto     = "auto"
	TriggerStartup  = "startup"
)

// Results of a piece of work.
const (
	ResultOK      = "ok"
	ResultFailed  = "failed"
	ResultSkipped = "skipped"
)

// IsFailure reports whether typ is a *.failed type.
func IsFailure(typ string) bool { return strings.HasSuffix(typ, ".failed") }
