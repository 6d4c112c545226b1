package tables

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/syndtr/goleveldb/leveldb/storage"

	"github.com/custodian-dev/custodian/internal/changelog"
	"github.com/custodian-dev/custodian/internal/logtail"
)

// A backup is file-level and incremental (RocksDB's BackupEngine is the
// model): goleveldb never changes a table file (.ldb) once written, so a
// backup copies only the table files that no earlier backup copied, into
// backups/<t>/.shared/<generation>-<number>.ldb (a real copy, never a
// link to the live file: damage to the live file must not reach a backup),
// and hard-links them from there into the backup's own directory, which is
// a complete goleveldb database: its table files, a copy of the MANIFEST
// up to the version they form, and copies of the journals goleveldb had
// not flushed yet (opened once, which folds them into one more table file).
// While it copies, the table's table files are not deleted (a compaction's
// removal of one is held until the backup ends: tableHold). A shared file
// no backup links to any more is removed when backups are pruned.

const sharedDir = ".shared"

// tableHold holds the removal of table files and journals (archived
// first) while a backup copies them.
type tableHold struct {
	mu    sync.Mutex
	n     int
	held  []storage.FileDesc
	store storage.Storage // where held files are removed at release
}

// hold makes Remove of table files wait until release.
func (h *tableHold) hold() {
	h.mu.Lock()
	h.n++
	h.mu.Unlock()
}

// defer reports whether the removal of fd waits (and records it).
func (h *tableHold) deferRemove(fd storage.FileDesc, st storage.Storage) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 || (fd.Type != storage.TypeTable && fd.Type != storage.TypeJournal) {
		return false
	}
	h.held = append(h.held, fd)
	h.store = st
	return true
}

// release ends a hold; the last one removes the held files (an error is
// returned; a file left behind is removed by goleveldb's next open).
func (h *tableHold) release() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.n--
	if h.n > 0 || len(h.held) == 0 {
		return nil
	}
	var errs []error
	for _, fd := range h.held {
		if err := h.store.Remove(fd); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	h.held = nil
	return errors.Join(errs...)
}

// fileSet is what a file-level backup copies: the table files of a
// version (from a copy of the MANIFEST cut at that version) and the
// journals from the version's journal number on.
type fileSet struct {
	manifestName string
	manifest     []byte // the MANIFEST's whole records
	version      changelog.Version
}

// readFileSet reads the live directory's current MANIFEST up to its last
// whole record and the version it describes.
func readFileSet(dir string) (fileSet, error) {
	name, err := logtail.CurrentManifest(dir)
	if err != nil {
		return fileSet{}, err
	}
	if name == "" {
		return fileSet{}, fmt.Errorf("%s has no CURRENT naming a MANIFEST", dir)
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return fileSet{}, err
	}
	v, err := changelog.ReadVersion(b)
	if err != nil {
		return fileSet{}, err
	}
	return fileSet{manifestName: name, manifest: b[:v.Valid], version: v}, nil
}

// copyFileSet writes the backup's database into tmp: each table file of
// fs linked from the shared copies (copied there first when new), the
// MANIFEST copy and CURRENT, and copies of the live journals from the
// version's journal number on (under the journal lock, so that goleveldb
// does not archive one meanwhile). It returns the bytes copied now (new
// shared files and journals) and reused.
func (t *Table) copyFileSet(ctx context.Context, set fileSet, tmp, shared string, progress Progress) (copied, reused int64, _ error) {
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return 0, 0, err
	}
	if err := os.MkdirAll(shared, 0o755); err != nil {
		return 0, 0, err
	}
	var total int64
	for _, size := range set.version.Tables {
		total += int64(size)
	}
	for num := range set.version.Tables {
		if err := ctx.Err(); err != nil {
			return copied, reused, err
		}
		name := fmt.Sprintf("%06d.ldb", num)
		sh := filepath.Join(shared, fmt.Sprintf("%08d-%s", t.gen, name))
		if _, err := os.Stat(sh); errors.Is(err, fs.ErrNotExist) {
			f, src, err := openTableFile(t.dir, int64(num))
			if err != nil {
				return copied, reused, fmt.Errorf("table file %d: %w", num, err)
			}
			f.Close()
			n, err := copyFile(src, sh+".tmp")
			if err == nil {
				err = os.Rename(sh+".tmp", sh)
			}
			if err != nil {
				os.Remove(sh + ".tmp")
				return copied, reused, err
			}
			copied += n
		} else if err != nil {
			return copied, reused, err
		} else {
			reused += int64(set.version.Tables[num])
		}
		if err := os.Link(sh, filepath.Join(tmp, name)); err != nil {
			return copied, reused, err
		}
		if progress != nil {
			progress(copied+reused, total, "bytes")
		}
	}
	if err := syncDir(shared); err != nil {
		return copied, reused, err
	}
	if err := os.WriteFile(filepath.Join(tmp, set.manifestName), set.manifest, 0o644); err != nil {
		return copied, reused, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "CURRENT"), []byte(set.manifestName+"\n"), 0o644); err != nil {
		return copied, reused, err
	}
	t.journalMu.Lock()
	defer t.journalMu.Unlock()
	live, err := changelog.LiveJournals(t.dir, t.gen)
	if err != nil {
		return copied, reused, err
	}
	// Every journal from the MANIFEST copy's journal number on is still
	// here: their removal is held since before the MANIFEST was read.
	for _, f := range live {
		if f.Num < set.version.JournalNum {
			continue
		}
		n, err := copyFile(f.Path, filepath.Join(tmp, filepath.Base(f.Path)))
		if err != nil {
			return copied, reused, err
		}
		copied += n
	}
	return copied, reused, nil
}

// cutJournals truncates the journals copied into dir at their last whole
// record (a write being appended when they were copied is not in the
// backup: its position says so).
func cutJournals(dir string) error {
	_, err := logtail.Repair(dir)
	return err
}

// BackupFile is one file of a backup, in its manifest.
type BackupFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// listBackupFiles lists the database files of the backup in dir with
// their size and SHA-256.
func listBackupFiles(dir string) ([]BackupFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []BackupFile
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || name == "LOCK" || strings.HasPrefix(name, "LOG") || name == manifestFile {
			continue
		}
		sum, size, err := FileSHA256(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		out = append(out, BackupFile{Name: name, Size: size, SHA256: sum})
	}
	return out, nil
}

// FileSHA256 is the SHA-256 (hex) and size of a file, as a backup's
// manifest lists its files.
func FileSHA256(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// pruneShared removes the shared copies no backup links to any more.
func pruneShared(shared string) (int, error) {
	ents, err := os.ReadDir(shared)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, e := range ents {
		p := filepath.Join(shared, e.Name())
		if strings.HasSuffix(e.Name(), ".tmp") {
			errs = append(errs, os.Remove(p))
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink <= 1 {
			if err := os.Remove(p); err != nil {
				errs = append(errs, err)
				continue
			}
			n++
		}
	}
	if n > 0 {
		errs = append(errs, syncDir(shared))
	}
	return n, errors.Join(errs...)
}
