package tables

import "github.com/custodian-dev/custodian/internal/apierr"

// Halt stops every table of the store serving data: from now on each
// data-plane call (get, put, delete, batch, scan) of every table answers
// apierr.TableUnavailable with message, whatever the table's own state,
// until Resume. Maintenance (backup, verify, compaction, restore, salvage,
// stats) is not affected: it is how a halted node is repaired. The
// supervisor halts the store when a critical table with on_unrecoverable
// stop ends degraded. message should name the cause ("node n1 is stopped:
// critical table users is unrecoverable ...").
func (s *Store) Halt(message string) {
	if message == "" {
		message = "the node is stopped"
	}
	s.halt.Store(&message)
}

// Resume undoes Halt: each table serves again as its own state allows.
func (s *Store) Resume() { s.halt.Store(nil) }

// Halted reports whether the store is halted, and Halt's message.
func (s *Store) Halted() (bool, string) {
	if m := s.halt.Load(); m != nil {
		return true, *m
	}
	return false, ""
}

// haltedErr is the answer of a data-plane call while the store is halted,
// nil otherwise. One atomic load: it is on every request.
func (s *Store) haltedErr(table string) error {
	if m := s.halt.Load(); m != nil {
		return apierr.New(apierr.TableUnavailable, "table %s: %s", table, *m)
	}
	return nil
}
