package tables

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/syndtr/goleveldb/leveldb/opt"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/changelog"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/logtail"
)

// Options configure a Store.
type Options struct {
	// BackupRetention is how many backups per table are kept (default 7).
	BackupRetention int
	// OnCorruption is called (never with a lock held) when any operation on a
	// table meets a corruption error: open, read, write, iterator, compaction,
	// verify. op names the operation ("get", "put", "scan", "compact", ...).
	OnCorruption func(table, op string, err error)
	// Failpoint, when set, is called with the name of each crash point of
	// rewrite compaction, backup, restore and salvage (see FailpointNames). Tests use
	// it to SIGKILL a child process at that step. Nil in production.
	Failpoint func(name string)
	// NoSync: data-plane writes are acknowledged once written to the
	// operating system (they survive a crash or SIGKILL of the process)
	// instead of once fsynced (which also survives power loss); like NATS
	// JetStream's default, a power loss or kernel crash can lose the writes
	// of the last seconds (the OS writeback window, ~30 s on Linux).
	// Maintenance (backups, rewrites, restores, manifests) is always
	// fsynced, and so is a table's journal when the table is closed.
	//
	// After such a power loss the journal's tail may be torn (cut off at
	// the next open, see logtail) or hold garbage in whole chunks; the
	// strict open (see dbOptions) reports garbage as a corruption instead
	// of dropping it silently, so the table is then restored from its last
	// backup or salvaged, which can lose more than the writeback window.
	// The default (false) fsyncs every write before it returns; goleveldb
	// merges concurrent writes into one fsync.
	NoSync bool
	// OnTornTail, when set, is called (never with a lock held) for each
	// torn tail cut off a table's journal or MANIFEST before the table is
	// opened (op "open") or reopened after a failed write (op "reopen"; see
	// logtail): an append that a crash or a full disk cut short. Nothing
	// acknowledged is lost by the cut; it is reported so that it is on
	// record.
	OnTornTail func(table, op string, cut logtail.Cut)
	// OnWriteFault, when set, is called (never with a lock held, and
	// never blocking) when a table's writes start to fail with an error
	// that is not a corruption (a full disk: apierr.NoSpace; an I/O
	// error: apierr.Internal). Reads go on; writes answer err's code until
	// Table.Heal reopens the handle (see writefault.go).
	OnWriteFault func(table string, err error)

	// Sizing for many tables (sizing.go, sleep.go). MaxOpen bounds the
	// tables whose database is open at once (0: no bound); WriteBuffer
	// is a table's memtable (default 512 KiB), BusyWriteBuffer a fast
	// writer's (default 4 MiB), BusyBytes what a table writes to be
	// one (default 2 MiB since its open); BlockCache (bytes, default
	// 64 MiB) and OpenFiles (table files, default 1,024) are shared by
	// every table of the store.
	MaxOpen         int
	WriteBuffer     int
	BusyWriteBuffer int
	BusyBytes       int
	BlockCache      int
	OpenFiles       int
}

// DefaultBackupRetention is the number of backups kept unless
// Options.BackupRetention says otherwise.
const DefaultBackupRetention = 7

// Directory names under the root.
const (
	tablesDir     = "tables"
	backupsDir    = "backups"
	quarantineDir = "quarantine"
)

// Prefixes of work directories beside the tables and backups. They start
// with '.', which no table name or backup id can, so they never collide.
const (
	tmpPrefix   = ".tmp-"   // scratch: removed by OpenStore
	oldPrefix   = ".old-"   // tables/.old-<t>: the live dir moved aside by a rewrite swap
	readyPrefix = ".ready-" // tables/.ready-<t>: a verified restore/salvage, committed
)

// Store is the data directory: it opens tables, lists backups, and cleans up
// what an interrupted operation left behind.
type Store struct {
	root string
	opts Options

	mu     sync.Mutex
	tables map[string]*Table

	caches caches // shared by the tables (sizing.go)

	sleepMu   sync.Mutex
	sleepErrs []error // closes of tables put to sleep by the bound (SleepIdle returns them)

	// halt is Halt's message while the store is halted (halt.go).
	halt atomic.Pointer[string]

	// noArchive, set only by benchmarks of this package, opens live
	// databases on goleveldb's plain storage (no journal archive): the
	// baseline of what the archive costs.
	noArchive bool
	// tune, set only by benchmarks of this package, changes the options
	// live databases are opened with (issue 12's sizing experiments).
	tune func(*opt.Options)

	// cleanupErrs are what OpenStore's cleanup could not do but went on
	// without (CleanupErrors).
	cleanupErrs []error
}

// CleanupErrors are the problems OpenStore's cleanup met and went on
// without (a journal that could not be put into the archive while a
// committed restore was rolled forward: it stays inside the quarantined
// copy). The caller reports them.
func (s *Store) CleanupErrors() []error { return s.cleanupErrs }

// OpenStore prepares root (creating tables/, backups/, quarantine/) and
// removes leftovers of interrupted operations: temp dirs are deleted, a
// rewrite interrupted in its swap is rolled back (or its old dir deleted
// when the new one is already in place), and a restore or salvage that
// reached its commit point (tables/.ready-<t>) is rolled forward.
func OpenStore(root string, opts Options) (*Store, error) {
	if opts.BackupRetention <= 0 {
		opts.BackupRetention = DefaultBackupRetention
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", root, err)
	}
	opts = withSizing(opts)
	s := &Store{root: abs, opts: opts, tables: map[string]*Table{}, caches: newCaches(opts)}
	for _, d := range []string{tablesDir, backupsDir, quarantineDir} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o755); err != nil {
			return nil, fmt.Errorf("store %s: %w", root, err)
		}
	}
	if err := s.cleanup(); err != nil {
		return nil, fmt.Errorf("store %s: cleanup: %w", root, err)
	}
	return s, nil
}

// Root is the data directory.
func (s *Store) Root() string { return s.root }

func (s *Store) tableDir(name string) string { return filepath.Join(s.root, tablesDir, name) }
func (s *Store) backupDir(name string) string {
	return filepath.Join(s.root, backupsDir, name)
}
func (s *Store) quarantineDir(name string) string {
	return filepath.Join(s.root, quarantineDir, name)
}

// validName refuses a table name that is not of the contract, before any
// path is built from it.
func validName(name string) error {
	if !events.ValidTable(name) {
		return apierr.New(apierr.InvalidTable, "invalid table name %q: want ^[a-z0-9][a-z0-9_-]{0,63}$", name)
	}
	return nil
}

// tableHomes are the directories whose entries make a table exist (Names,
// Exists): the live one, and quarantine for a table whose restore was
// interrupted.
func tableHomes() [2]string { return [2]string{tablesDir, quarantineDir} }

// Names lists the tables present on disk: every live table directory, and
// every table whose directory is missing while it has a quarantined copy
// (a restore was interrupted; opening it reports a corruption so that it is
// restored).
func (s *Store) Names() ([]string, error) {
	seen := map[string]bool{}
	for _, d := range tableHomes() {
		ents, err := os.ReadDir(filepath.Join(s.root, d))
		if err != nil {
			return nil, fmt.Errorf("store: names: %w", err)
		}
		for _, e := range ents {
			if e.IsDir() && events.ValidTable(e.Name()) {
				seen[e.Name()] = true
			}
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// Exists reports whether the store has the table name, as Names lists
// tables: a directory under tables/ or quarantine/. It looks at those two
// paths only (Names reads both directories whole).
func (s *Store) Exists(name string) (bool, error) {
	if !events.ValidTable(name) {
		return false, apierr.New(apierr.InvalidTable, "invalid table name %q", name)
	}
	for _, home := range tableHomes() {
		fi, err := os.Stat(filepath.Join(s.root, home, name))
		switch {
		case err == nil && fi.IsDir():
			return true, nil
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return false, fmt.Errorf("store: table %s: exists: %w", name, err)
		}
	}
	return false, nil
}

// Open opens the table name, creating it if create is true. A name that is
// not valid is refused with apierr.InvalidTable before any path is built. A
// table that does not exist and create is false is apierr.NotFound.
//
// A corruption error on open is returned (wrapped with table and "open", and
// reported to OnCorruption); the returned *Table is then non-nil but
// unavailable (reason "corrupted"), so that it can be quarantined and
// restored. A table whose directory is missing while it has backups or
// quarantined copies (an interrupted restore, or a directory removed by
// hand) is never silently recreated empty: it opens the same way, as a
// corruption.
//
// Open returns the same *Table for a name until that table is closed.
func (s *Store) Open(ctx context.Context, name string, create bool) (*Table, error) {
	if err := validName(name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, cuts, err := s.open(ctx, name, create)
	s.reportCuts(name, "open", cuts)
	switch {
	case err == nil:
		if t.awake() {
			s.enforceBound(t) // beyond the bound, the least recently used go to sleep
		}
		return t, nil
	case t != nil && IsCorruption(err):
		return t, t.fail("open", err)
	case t != nil:
		return nil, t.fail("open", err)
	default:
		return nil, err
	}
}

// reportCuts hands the torn tails cut off table's files by op to
// OnTornTail.
func (s *Store) reportCuts(table, op string, cuts []logtail.Cut) {
	if s.opts.OnTornTail == nil {
		return
	}
	for _, c := range cuts {
		s.opts.OnTornTail(table, op, c)
	}
}

// open does the work of Open under s.mu. A non-nil *Table with an error is
// a table that could not be opened: registered and unavailable when the
// error is a corruption, not registered otherwise. cuts are the torn tails
// cut off before the open (see openLive), also when the open then failed.
func (s *Store) open(ctx context.Context, name string, create bool) (_ *Table, cuts []logtail.Cut, _ error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tables[name]; ok && !t.isClosed() {
		return t, nil, nil
	}
	t := &Table{store: s, name: name, dir: s.tableDir(name)}
	ok, err := exists(t.dir)
	if err != nil {
		return t, nil, err
	}
	if !ok {
		hist, err := s.hasHistory(name)
		if err != nil {
			return t, nil, err
		}
		switch {
		case hist:
			t.reason = ReasonCorrupted
			s.tables[name] = t
			return t, nil, corrupted("table directory is missing but backups or quarantined copies exist (interrupted restore?)")
		case !create:
			return nil, nil, apierr.New(apierr.NotFound, "table %s does not exist", name)
		}
		if err := s.createDB(name); err != nil {
			return nil, nil, opErrorf(name, "create", "%w", err)
		}
	} else if ok, err := s.registerAsleep(t); err != nil || ok {
		return t, nil, err
	}
	db, g, cuts, err := t.openLive(t.dir)
	if err != nil {
		if IsCorruption(err) {
			t.reason = ReasonCorrupted
			s.tables[name] = t
		}
		return t, cuts, err
	}
	if err := t.install(db, g); err != nil {
		db.Close()
		t.db = nil
		return t, cuts, opErrorf(name, "open", "journal position: %w", err)
	}
	if err := t.loadDead(ctx); err != nil {
		db.Close()
		t.db = nil
		if IsCorruption(err) {
			t.reason = ReasonCorrupted
			s.tables[name] = t
		}
		return t, cuts, err
	}
	t.touch()
	s.tables[name] = t
	return t, cuts, nil
}

// registerAsleep registers t without opening its database when the store
// already has Options.MaxOpen tables (a start opens the first ones, which
// checks them, and registers the rest) and t's directory says it was
// closed cleanly (its dead estimate, position and marks are then what the
// close saved: see Table.closeDBLocked). s.mu is held.
func (s *Store) registerAsleep(t *Table) (bool, error) {
	if s.opts.MaxOpen <= 0 {
		return false, nil
	}
	if len(s.tables) < s.opts.MaxOpen {
		return false, nil
	}
	d, ok, err := readDead(t.dir)
	if err != nil || !ok || !d.Clean || !d.PositionKnown {
		return false, nil // opened: the open checks (and reports) what is wrong
	}
	t.asleep = true
	t.gen = d.Generation
	t.pos.Store(d.Position)
	t.openPos = d.Position
	d.Clean, d.Generation, d.Position, d.PositionKnown = false, 0, 0, false
	t.setDead(d)
	s.tables[t.name] = t
	return true, nil
}

// hasHistory reports whether name has backups or quarantined copies.
func (s *Store) hasHistory(name string) (bool, error) {
	for _, d := range []string{s.backupDir(name), s.quarantineDir(name)} {
		ents, err := os.ReadDir(d)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return false, err
		}
		for _, e := range ents {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				return true, nil
			}
		}
	}
	return false, nil
}

// createDB creates an empty database in a temp dir and renames it into
// tables/<name>, so that a crash never leaves a half-created table.
func (s *Store) createDB(name string) error {
	tmp := filepath.Join(s.root, tablesDir, tmpPrefix+"create-"+name+"-"+randHex(4))
	db, err := openDB(tmp, false)
	if err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := db.Close(); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := writeDead(tmp, deadState{Since: time.Now().UTC(), Clean: true}, true); err != nil { // empty and closed: exact
		os.RemoveAll(tmp)
		return err
	}
	if err := s.newTableGeneration(name, tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := syncTree(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, s.tableDir(name)); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	return syncDir(filepath.Join(s.root, tablesDir))
}

// Close closes every open table.
func (s *Store) Close() error {
	s.mu.Lock()
	ts := make([]*Table, 0, len(s.tables))
	for _, t := range s.tables {
		ts = append(ts, t)
	}
	s.tables = map[string]*Table{}
	s.mu.Unlock()
	var errs []error
	for _, t := range ts {
		if err := t.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// newTableGeneration gives a table created under a name whose journal
// archive is not empty (a table of that name whose directory was removed
// by hand) a generation of its own, a new history, so that its journals
// never take the old table's names.
func (s *Store) newTableGeneration(name, dir string) error {
	arch := s.journalPath(name)
	empty, err := changelog.ArchiveEmpty(arch)
	if err != nil || empty {
		return err
	}
	n, err := changelog.NextGeneration(arch, 0)
	if err != nil {
		return err
	}
	base, err := changelog.EndSequence(dir)
	if err != nil {
		return err
	}
	return changelog.WriteGeneration(dir, arch, changelog.Generation{
		Number: n, SeqBase: base, Root: true, Reason: "create", Created: time.Now().UTC(),
	})
}
