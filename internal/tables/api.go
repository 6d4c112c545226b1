package tables

// API SKELETON written by the lead so that internal/supervisor and internal/bus
// compile while this package is built. The owner of internal/tables replaces
// every body; exported names and signatures may grow but should not change
// without updating their callers.

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

var errNotImplemented = errors.New("not implemented yet")

// Options configure a Store.
type Options struct {
	// BackupRetention is how many backups per table are kept (default 7).
	BackupRetention int
	// OnCorruption is called (never with a lock held) when any operation on a
	// table meets a corruption error: open, read, write, iterator, compaction,
	// verify. op names the operation ("get", "put", "scan", "compact", ...).
	OnCorruption func(table, op string, err error)
	// Failpoint, when set, is called with the name of each crash point of
	// rewrite compaction, backup and restore (e.g. "rewrite.before-swap").
	// Tests use it to SIGKILL a child process at that step. Nil in production.
	Failpoint func(name string)
}

// Store is the data directory: it opens tables, lists backups, and cleans up
// what an interrupted operation left behind.
type Store struct{}

// OpenStore prepares root (creating tables/, backups/, quarantine/) and
// removes leftovers of interrupted operations.
func OpenStore(root string, opts Options) (*Store, error) { return nil, errNotImplemented }

// Root is the data directory.
func (s *Store) Root() string { return "" }

// Names lists the tables present on disk.
func (s *Store) Names() ([]string, error) { return nil, errNotImplemented }

// Open opens the table name, creating it if create is true. A name that is not
// valid is refused with apierr.InvalidTable before any path is built. A
// corruption error on open is returned (and reported to OnCorruption); the
// returned *Table is then non-nil but unavailable, so that it can be restored.
func (s *Store) Open(ctx context.Context, name string, create bool) (*Table, error) {
	return nil, errNotImplemented
}

// Backups lists the backups of a table, newest first.
func (s *Store) Backups(table string) ([]Manifest, error) { return nil, errNotImplemented }

// Prune deletes all but the newest keep backups of table and returns the
// manifests it deleted.
func (s *Store) Prune(table string, keep int) ([]Manifest, error) { return nil, errNotImplemented }

// Close closes every open table.
func (s *Store) Close() error { return errNotImplemented }

// Table is one live goleveldb database whose handle can be swapped under a
// lock (compaction by rewrite, restore, salvage) while the *Table stays the
// same for its users.
type Table struct{}

// Name is the table's name.
func (t *Table) Name() string { return "" }

// Get returns the JSON value at key, apierr.NotFound if there is none, and
// apierr.TableUnavailable while the table is restoring or degraded.
func (t *Table) Get(ctx context.Context, key string) (json.RawMessage, error) {
	return nil, errNotImplemented
}

// Put stores a JSON value at key. It returns after the write is durable.
func (t *Table) Put(ctx context.Context, key string, value json.RawMessage) error {
	return errNotImplemented
}

// Delete removes key (no error if it is absent).
func (t *Table) Delete(ctx context.Context, key string) error { return errNotImplemented }

// Batch applies ops atomically.
func (t *Table) Batch(ctx context.Context, ops []Op) error { return errNotImplemented }

// Scan lists up to limit items whose key has prefix and sorts after after.
// Next is the last key returned when more items follow, "" otherwise.
func (t *Table) Scan(ctx context.Context, prefix, after string, limit int) (ScanResult, error) {
	return ScanResult{}, errNotImplemented
}

// Stats reports size, records and the dead-record estimate.
func (t *Table) Stats(ctx context.Context) (Stats, error) { return Stats{}, errNotImplemented }

// Available reports whether the table serves requests; when it does not,
// the reason says why ("restoring", "degraded", ...).
func (t *Table) Available() (ok bool, reason string) { return false, "" }

// SetUnavailable stops the table serving: every request answers
// apierr.TableUnavailable with reason until the table serves again.
func (t *Table) SetUnavailable(reason string) {}

// Compact compacts the table in the given mode (ModeAuto chooses). Progress,
// when non-nil, is called with figures as the work goes on.
func (t *Table) Compact(ctx context.Context, mode Mode, progress Progress) (CompactResult, error) {
	return CompactResult{}, errNotImplemented
}

// Backup writes a consistent backup of the live table, verifies it and
// returns its manifest.
func (t *Table) Backup(ctx context.Context, progress Progress) (Manifest, error) {
	return Manifest{}, errNotImplemented
}

// Verify scans the whole table with strict checksums.
func (t *Table) Verify(ctx context.Context, progress Progress) (VerifyResult, error) {
	return VerifyResult{}, errNotImplemented
}

// Quarantine closes the live database and moves its directory to
// quarantine/<table>/<time>/ (never deleted). The table is unavailable after.
func (t *Table) Quarantine(ctx context.Context) (string, error) { return "", errNotImplemented }

// RestoreFrom copies the backup id into place, verifies it (records and
// digest equal to its manifest, then an open/close test) and serves it.
// On error the table stays unavailable and nothing half-restored is left in
// tables/<table>.
func (t *Table) RestoreFrom(ctx context.Context, backupID string, progress Progress) (RestoreResult, error) {
	return RestoreResult{}, errNotImplemented
}

// Salvage runs leveldb.RecoverFile on the newest quarantined copy into a new
// directory, verifies it opens, and serves it.
func (t *Table) Salvage(ctx context.Context, progress Progress) (SalvageResult, error) {
	return SalvageResult{}, errNotImplemented
}

// Close closes the database.
func (t *Table) Close() error { return errNotImplemented }

// IsCorruption reports whether err (or anything it wraps) is a goleveldb
// corruption error of either type.
func IsCorruption(err error) bool { return false }

// Progress receives figures while long work goes on: done and total in the
// unit named (e.g. "records", "bytes").
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
	Records     int64   `json:"records"`      // live records (estimate between scans)
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
	Created time.Time `json:"created"`
	Records int64     `json:"records"`
	Bytes   int64     `json:"bytes"`
	Digest  string    `json:"digest"`
}

// VerifyResult is the outcome of a strict scan.
type VerifyResult struct {
	Records int64  `json:"records"`
	Bytes   int64  `json:"bytes"`
	Digest  string `json:"digest"`
}

// RestoreResult is the outcome of a restore from a backup.
type RestoreResult struct {
	BackupID  string        `json:"backup_id"`
	Records   int64         `json:"records"`
	BackupAge time.Duration `json:"backup_age"`
}

// SalvageResult is the outcome of a salvage.
type SalvageResult struct {
	Source  string `json:"source"` // the quarantined copy it came from
	Records int64  `json:"records"`
}
