package tables

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// quarantineTimeFormat names a quarantined copy: RFC 3339 in UTC without
// colons (not every tool likes them in paths), nanoseconds so that two
// quarantines never collide and names sort by time.
const quarantineTimeFormat = "20060102T150405.000000000Z"

// Quarantine closes the live database and moves its directory to
// quarantine/<table>/<time>/ (never deleted). The table is unavailable after
// (reason "quarantined") until RestoreFrom or Salvage serves it again. It
// returns the quarantine directory, or "" when there was no live directory.
func (t *Table) Quarantine(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	t.opMu.Lock()
	defer t.opMu.Unlock()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return "", apierr.New(apierr.TableUnavailable, "table %s is closed", t.name)
	}
	if t.db != nil {
		_ = t.saveDead(true)
		// Closing a damaged database can fail; the move goes on.
		_ = t.db.Close()
		t.db = nil
	}
	t.fault = nil
	t.asleep = false
	t.reason = ReasonQuarantined
	q, err := t.moveToQuarantine()
	if err != nil {
		return "", opErrorf(t.name, "quarantine", "%w", err)
	}
	return q, nil
}

// moveToQuarantine renames tables/<t> (when it exists) into
// quarantine/<t>/<time> and fsyncs both parents. The caller holds t.mu and
// has closed the database.
func (t *Table) moveToQuarantine() (string, error) {
	ok, err := exists(t.dir)
	if err != nil || !ok {
		return "", err
	}
	// Its journals hold its newest writes: kept in the archive first (a
	// restore sealed them already, before its commit point). If that
	// fails they stay inside the quarantined copy: the move goes on, the
	// failure is reported (JournalError).
	if err := t.seal(t.dir); err != nil {
		t.journalFault(err)
	}
	return t.store.quarantine(t.name, t.dir)
}

// quarantine moves dir into quarantine/<name>/<time>.
func (s *Store) quarantine(name, dir string) (string, error) {
	qroot := s.quarantineDir(name)
	if err := os.MkdirAll(qroot, 0o755); err != nil {
		return "", err
	}
	if err := syncDir(filepath.Dir(qroot)); err != nil {
		return "", err
	}
	q := filepath.Join(qroot, time.Now().UTC().Format(quarantineTimeFormat))
	if err := os.Rename(dir, q); err != nil {
		return "", err
	}
	if err := syncDir(qroot); err != nil {
		return q, err
	}
	return q, syncDir(filepath.Dir(dir))
}

// Quarantined lists the quarantined copies of a table, newest first (full
// paths).
func (s *Store) Quarantined(table string) ([]string, error) {
	if err := validName(table); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(s.quarantineDir(table))
	if err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, opErrorf(table, "quarantined", "%w", err)
	}
	var out []string
	for i := len(ents) - 1; i >= 0; i-- {
		if ents[i].IsDir() && ents[i].Name()[0] != '.' {
			out = append(out, filepath.Join(s.quarantineDir(table), ents[i].Name()))
		}
	}
	return out, nil
}
