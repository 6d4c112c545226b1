package supervisor

import (
	"fmt"

	"github.com/custodian-dev/custodian/internal/tables"
)

// roomMargin is the free space an operation needs beyond the copy it
// writes: goleveldb's own files while it works (a level-0 table of up to its
// write buffer, a MANIFEST, a journal) and the outbox's events.
const roomMargin = 8 << 20

// noRoom says why an operation that writes a copy of the table (a rewrite,
// a backup, or a native compaction, which may rewrite every level) must not
// start: the table's writes fail, or the disk has less free space than the
// table's size plus roomMargin. It returns "" when the work may start, and
// an error when the free space cannot be read.
func (s *Supervisor) noRoom(t *tables.Table, size int64) (reason string, figures map[string]any, err error) {
	if f, failing := t.WriteFault(); failing {
		return fmt.Sprintf("writes fail (%s since %s): %s", f.Code, f.Since.UTC().Format("2006-01-02T15:04:05Z"), f.Err),
			map[string]any{"reason_code": string(f.Code)}, nil
	}
	free, err := s.store.FreeBytes()
	if err != nil {
		return "", nil, err
	}
	need := size + roomMargin
	if free >= need {
		return "", nil, nil
	}
	return fmt.Sprintf("not enough free disk space: need %d bytes (the table's %d plus %d), %d free", need, size, roomMargin, free),
		map[string]any{"reason_code": "no_space", "need_bytes": need, "free_bytes": free}, nil
}
