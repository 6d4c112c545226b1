package supervisor

import (
	"fmt"

	"github.com/custodian-dev/custodian/internal/events"
)

// backupNewHistory queues a backup (trigger auto) of a table whose data
// does not continue its journal's history: after a salvage, a restore to a
// time, or a restore that lost writes. Until a backup is taken in the new
// history, a restore could only serve an older backup without the journal
// (see tables.Table.InHistory); this closes that window at once instead of
// at the next scheduled backup.
func (s *Supervisor) backupNewHistory(ts *tableState, why string) error {
	_, err := s.submit(s.workCtx, Command{
		Table:   ts.name,
		Verb:    events.VerbBackup,
		Trigger: events.TriggerAuto,
	}, false)
	if err != nil {
		return fmt.Errorf("table %s: backup after %s: %w", ts.name, why, err)
	}
	return nil
}
