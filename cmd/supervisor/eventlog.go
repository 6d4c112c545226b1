package main

import (
	"context"
	"log/slog"

	"github.com/custodian-dev/custodian/internal/events"
)

// loggingEmitter hands every event to the outbox and writes the incidents
// among them to the supervisor's log, so that the log names every
// corruption, restore, degraded table, torn tail cut, failure and full disk
// the supervisor acts on (the stream has them all; the log is what an
// operator reads first on the host).
type loggingEmitter struct {
	next events.Emitter
	log  *slog.Logger
}

func (l loggingEmitter) Emit(ctx context.Context, e events.Event) error {
	err := l.next.Emit(ctx, e)
	if level, ok := logLevel(e); ok {
		attrs := []any{"type", e.Type, "table", e.Table, "trigger", e.Trigger, "id", e.ID}
		if e.Error != "" {
			attrs = append(attrs, "error", e.Error)
		}
		for _, k := range []string{"op", "reason", "backup_id", "records", "journal_records", "lost", "lost_reason", "source", "offsite_skipped", "at", "method", "file", "offset", "bytes_dropped", "quarantine", "writes", "writes_code", "writes_error"} {
			if v, ok := e.Data[k]; ok {
				attrs = append(attrs, k, v)
			}
		}
		if err != nil {
			attrs = append(attrs, "emit_error", err.Error())
		}
		l.log.Log(ctx, level, "event", attrs...)
	}
	return err
}

// logLevel says whether e is logged, and at which level: failures,
// corruption, degraded tables and failing writes as warnings; restores,
// recoveries (torn tails cut) and writes working again as information.
func logLevel(e events.Event) (slog.Level, bool) {
	switch {
	case events.IsFailure(e.Type), e.Type == events.CorruptionDetected, e.Type == events.TableDegraded:
		return slog.LevelWarn, true
	case e.Type == events.RestoreStarted, e.Type == events.RestoreCompleted, e.Type == events.TableRecovered:
		return slog.LevelInfo, true
	case e.Type == events.TableStats && e.Data["writes_changed"] == true:
		switch e.Data["writes"] {
		case "failing":
			return slog.LevelWarn, true
		case "ok":
			return slog.LevelInfo, true
		}
	}
	return 0, false
}
