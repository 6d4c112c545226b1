package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/tables"
)

// TestBackupOfATableLargerThanTheWriteBuffer backs up a table of about
// 6 MiB (more than goleveldb's 4 MiB write buffer) several times. A backup's
// copy closed while its memtable flush is pending keeps two journals, and
// goleveldb's read-only open of such a directory fails with EOF: tables'
// verify of the backup must not depend on that.
func TestBackupOfATableLargerThanTheWriteBuffer(t *testing.T) {
	h := start(t, harnessOpt{})
	tb := h.open("users")
	raw := make([]byte, 1000)
	for i := range raw {
		raw[i] = 'a' + byte(i%26)
	}
	v, _ := json.Marshal(string(raw))
	for i := 0; i < 6*1024; i += 256 {
		ops := make([]tables.Op, 0, 256)
		for k := 0; k < 256; k++ {
			ops = append(ops, tables.Op{Op: "put", Key: fmt.Sprintf("k%08d", i+k), Value: v})
		}
		if err := tb.Batch(context.Background(), ops); err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 4; round++ {
		e := h.wait(h.submit("users", events.VerbBackup, events.CommandBody{}))
		if e.Type != events.BackupCompleted {
			t.Fatalf("round %d: backup of a 6 MiB table: %s (%s)", round, e.Type, e.Error)
		}
		if e.Data["records"] != int64(6*1024) {
			t.Fatalf("round %d: backup records %v", round, e.Data["records"])
		}
	}
}
