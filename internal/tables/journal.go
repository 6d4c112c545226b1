package tables

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/storage"

	"github.com/custodian-dev/custodian/internal/changelog"
	"github.com/custodian-dev/custodian/internal/logtail"
)

// The change journal (see package changelog): a live table's database
// runs on an archiving storage, whose Remove of a journal file first puts
// it into the table's archive, <root>/journal/<t>/ (a hard link, fsynced),
// so that every write stays readable after goleveldb has flushed it into a
// table file. Nothing is added to a write's path: goleveldb writes and
// fsyncs its journal as it always does. A live directory that is replaced
// (a rewrite's swap, a restore, a salvage) or moved to quarantine is
// sealed first: its remaining journals are put into the archive too.
// Retention (pruneJournal) removes the archive's files that no retained
// backup needs.

const journalDir = "journal"

// journalPath is the table's journal archive.
func (s *Store) journalPath(name string) string { return filepath.Join(s.root, journalDir, name) }

// handle is an open live database and the storage it runs on (goleveldb
// does not close a storage it was given).
type handle struct {
	*leveldb.DB
	stor storage.Storage
}

// Close closes the database, then its storage.
func (h *handle) Close() error {
	err := h.DB.Close()
	if h.stor != nil {
		err = errors.Join(err, h.stor.Close())
	}
	return err
}

// archiving is a storage whose Remove of a journal keeps it in the archive
// first. mu is the table's journal lock (Table.journalMu): a reader that
// lists the archive and the live directory under it sees every file once.
type archiving struct {
	storage.Storage
	dir, archive string
	gen          uint64
	mu           *sync.Mutex
	failpoint    func(string)
	fault        func(error) // a journal that could not be archived (kept in place)
	hold         *tableHold  // table files a backup copies are removed after it
}

func (a *archiving) Remove(fd storage.FileDesc) error {
	if fd.Type != storage.TypeJournal {
		if a.hold.deferRemove(fd, a.Storage) {
			return nil // a backup copies it: removed when the backup ends
		}
		return a.Storage.Remove(fd)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failpoint(FPJournalBeforeKeep)
	if err := changelog.Keep(a.dir, a.archive, a.gen, uint64(fd.Num)); err != nil {
		// The journal stays where it is (a reader finds it there, and
		// goleveldb's next open removes it again, through here): the
		// archive's trouble must not fail the table's open or its
		// flush. It is reported (Table.JournalError).
		a.fault(err)
		return nil
	}
	a.failpoint(FPJournalAfterKeep)
	a.fault(nil)
	if a.hold.deferRemove(fd, a.Storage) {
		// Archived, and left in the live directory while a backup runs:
		// the backup copies the journals its MANIFEST copy names.
		return nil
	}
	return a.Storage.Remove(fd)
}

// openLive opens a table's live database in dir on the archiving storage:
// the torn tails of its journals and MANIFEST cut off first
// (logtail.Repair), then the strict open of openDB. The cuts are returned
// also when the open fails.
func (t *Table) openLive(dir string) (*handle, changelog.Generation, []logtail.Cut, error) {
	cuts, err := logtail.Repair(dir)
	if err != nil {
		return nil, changelog.Generation{}, cuts, err
	}
	g, err := changelog.ReadGeneration(dir)
	if err != nil {
		// The record is damaged: the database is the newest committed
		// generation (every live database is committed at its first
		// open); the record is written anew and the repair reported.
		arch := t.store.journalPath(t.name)
		cur, cerr := changelog.CurrentGeneration(arch)
		if cerr == nil {
			cerr = changelog.WriteLocalGeneration(dir, cur)
		}
		if cerr != nil {
			return nil, g, cuts, fmt.Errorf("generation record: %w (rebuilding it: %v)", err, cerr)
		}
		t.journalFault(fmt.Errorf("generation record unreadable (%v): rebuilt as generation %d from the archive", err, cur.Number))
		g = cur
	}
	o := dbOptions(false)
	t.store.size(o, t.busy)
	if t.store.tune != nil {
		t.store.tune(o)
	}
	nonEmpty, err := hasFiles(dir)
	if err != nil {
		return nil, g, cuts, err
	}
	o.ErrorIfMissing = nonEmpty
	fs, err := storage.OpenFile(dir, false)
	if err != nil {
		return nil, g, cuts, err
	}
	var st storage.Storage = &archiving{Storage: fs, dir: dir, archive: t.store.journalPath(t.name), gen: g.Number,
		mu: &t.journalMu, failpoint: t.store.failpoint, fault: t.journalFault, hold: &t.tableHold}
	if t.store.noArchive {
		st = fs
	}
	db, err := leveldb.Open(st, o)
	if err != nil {
		err = errors.Join(err, fs.Close())
		if nonEmpty && isNotExist(err) {
			return nil, g, cuts, corrupted("%s: CURRENT is missing or names a missing MANIFEST: %v", dir, err)
		}
		return nil, g, cuts, err
	}
	return &handle{DB: db, stor: fs}, g, cuts, nil
}

// seal puts the journals of the live directory dir (closed) into the
// archive, before it is replaced or moved away.
func (t *Table) seal(dir string) error {
	t.journalMu.Lock()
	defer t.journalMu.Unlock()
	return t.store.seal(t.name, dir)
}

// seal puts the journals of the database directory dir of table name into
// its archive, as the generation its record names (when that record cannot
// be read: the newest committed generation, which a live directory is).
func (s *Store) seal(name, dir string) error {
	g, err := changelog.ReadGeneration(dir)
	if err != nil {
		if g, err = changelog.CurrentGeneration(s.journalPath(name)); err != nil {
			return fmt.Errorf("keep the journal of %s: generation: %w", filepath.Base(dir), err)
		}
	}
	gen := g.Number
	if err := changelog.Seal(dir, s.journalPath(name), gen); err != nil {
		return fmt.Errorf("keep the journal of %s: %w", filepath.Base(dir), err)
	}
	return nil
}

// pinJournal makes a stable view of the table's whole journal in the new
// directory into: a hard link of every archived file and generation
// record, and of the live directory's journals as archived files of its
// generation (goleveldb may archive and remove them meanwhile; a link
// keeps the bytes already written, and what is appended after). The view
// is read without holding the journal lock. current is the generation of
// the table's current state.
func (t *Table) pinJournal(into string, current uint64) (changelog.Journal, error) {
	t.journalMu.Lock()
	defer t.journalMu.Unlock()
	j := changelog.Journal{Archive: into, Current: current}
	if err := os.MkdirAll(into, 0o755); err != nil {
		return j, err
	}
	arch := t.store.journalPath(t.name)
	ents, err := os.ReadDir(arch)
	if err != nil && !isNotExist(err) {
		return j, err
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || filepath.Ext(e.Name()) == ".tmp" {
			continue
		}
		if err := os.Link(filepath.Join(arch, e.Name()), filepath.Join(into, e.Name())); err != nil {
			return j, err
		}
	}
	g, err := changelog.ReadGeneration(t.dir)
	if err != nil || g.Number != current {
		return j, nil // no live directory of the current generation (moved away: sealed)
	}
	live, err := changelog.LiveJournals(t.dir, g.Number)
	if err != nil {
		return j, err
	}
	for _, f := range live {
		err := os.Link(f.Path, filepath.Join(into, changelog.ArchivedName(f.Gen, f.Num)))
		if err != nil && !errors.Is(err, os.ErrExist) {
			if isNotExist(err) {
				continue // archived and removed since the listing: linked above
			}
			return j, err
		}
		if errors.Is(err, os.ErrExist) {
			// Archived and still live: the live link is the same file.
			continue
		}
	}
	return j, nil
}

func isNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }

// isHandle reports whether db is the table's open handle; t.mu is held.
func (t *Table) isHandle(db *leveldb.DB) bool { return t.db != nil && t.db.DB == db }

// install makes h, a live database of generation g, the table's handle;
// t.mu is held (or the table is not shared yet). Its position starts from
// its MANIFEST: an error is kept (Position and the next backup's manifest
// report it) and returned.
func (t *Table) install(h *handle, g changelog.Generation) error {
	t.db = h
	t.gen = g.Number
	t.fault = nil // a new handle takes writes
	t.asleep = false
	t.written.Store(0)
	t.touch()
	if err := changelog.MarkCommitted(t.store.journalPath(t.name), g); err != nil {
		t.journalFault(fmt.Errorf("mark generation %d committed: %w", g.Number, err))
	}
	return t.startPosition()
}

// newGeneration makes the closed database in dir a new generation of the
// table's journal: g's number and sequence base are filled in (the next
// number; the last write dir holds) and g is recorded in the archive and in
// dir (changelog.WriteGeneration), before dir serves.
func (t *Table) newGeneration(dir string, g changelog.Generation) error {
	arch := t.store.journalPath(t.name)
	n, err := changelog.NextGeneration(arch, t.gen)
	if err != nil {
		return err
	}
	base, err := changelog.EndSequence(dir)
	if err != nil {
		return err
	}
	g.Number, g.SeqBase = n, base
	if g.Created.IsZero() {
		g.Created = time.Now().UTC()
	}
	return changelog.WriteGeneration(dir, arch, g)
}

// journalFault records that a journal could not be put into the archive.
// A nil err clears it.
func (t *Table) journalFault(err error) {
	if err == nil {
		t.journalErr.Store(nil)
		return
	}
	err = opErrorf(t.name, "journal", "keep a flushed journal: %w", err)
	t.journalErr.Store(&err)
}

// JournalError is why the last journal goleveldb flushed could not be put
// into the archive (it stays in the live directory, readable), or nil.
// Cleared when a later one is archived.
func (t *Table) JournalError() error {
	if p := t.journalErr.Load(); p != nil {
		return *p
	}
	return nil
}

// Journal is where the table's change journal is, for a reader of it (a
// tailer shipping it off-site): the archive, the live directory and the
// current generation.
func (t *Table) Journal() (changelog.Journal, error) {
	cur, err := t.currentGeneration()
	if err != nil {
		return changelog.Journal{}, opErrorf(t.name, "journal", "%w", err)
	}
	live := ""
	if ok, _ := exists(t.dir); ok {
		live = t.dir
	}
	return changelog.Journal{Archive: t.store.journalPath(t.name), Live: live, Current: cur}, nil
}
