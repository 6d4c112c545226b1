package notifier

import "github.com/custodian-dev/custodian/internal/events"

// Severities of a notification.
const (
	SeverityCritical = "critical"
	SeverityHigh     = "high"
	SeverityWarning  = "warning"
)

// notifyingTypes are the event types that can notify; the consumer is
// filtered to them. notification.failed is not among them: a notifier must
// not page about its own failure to page (that would loop).
func notifyingTypes() []string {
	return []string{
		events.CompactionFailed,
		events.BackupFailed,
		events.VerifyFailed,
		events.RestoreFailed,
		events.RestoreCompleted,
		events.DrillFailed,
		events.OffsiteFailed,
		events.TableDegraded,
	}
}

// Notifies reports whether e is worth a notification, and with which
// severity: table.degraded (critical), a final *.failed other than
// notification.failed (high; a drill.failed or offsite.failed is final
// unless its data.final says false: a backup that cannot restore, or that
// would not survive the loss of the disk, is an incident),
// restore.completed with data.lost true whatever its trigger (high:
// acknowledged writes are gone), restore.completed with trigger auto
// (warning). Everything else is silent.
func Notifies(e events.Event) (severity string, ok bool) {
	switch {
	case e.Type == events.TableDegraded:
		return SeverityCritical, true
	case e.Type == events.NotificationFailed:
		return "", false
	case e.Type == events.DrillFailed, e.Type == events.OffsiteFailed:
		if final, ok := e.Data["final"].(bool); ok && !final {
			return "", false // another attempt follows
		}
		return SeverityHigh, true
	case e.Type == events.RestoreCompleted && lostWrites(e):
		return SeverityHigh, true
	case e.Final():
		return SeverityHigh, true
	case e.Type == events.RestoreCompleted && e.Trigger == events.TriggerAuto:
		return SeverityWarning, true
	}
	return "", false
}

// severityRank orders severities, most urgent highest.
func severityRank(s string) int {
	switch s {
	case SeverityCritical:
		return 3
	case SeverityHigh:
		return 2
	case SeverityWarning:
		return 1
	}
	return 0
}

// ntfyPriority maps a severity to ntfy's 1..5 priority.
func ntfyPriority(s string) string {
	switch s {
	case SeverityCritical:
		return "5"
	case SeverityHigh:
		return "4"
	}
	return "3"
}

// severityTag is the ntfy emoji tag of a severity.
func severityTag(s string) string {
	switch s {
	case SeverityCritical:
		return "rotating_light"
	case SeverityHigh:
		return "warning"
	}
	return "information_source"
}

// lostWrites reports a restore that could not bring back every
// acknowledged write (data.lost).
func lostWrites(e events.Event) bool {
	lost, _ := e.Data["lost"].(bool)
	return lost
}

// criticalTable reports an event of a table whose policy says it is
// critical (data.critical).
func criticalTable(e events.Event) bool {
	c, _ := e.Data["critical"].(bool)
	return c
}

// nodeStopped reports a critical table's table.degraded after which its
// whole node stopped serving data (data.on_unrecoverable "stop").
func nodeStopped(e events.Event) bool {
	return e.Type == events.TableDegraded && criticalTable(e) && dataString(e, "on_unrecoverable") == "stop"
}
