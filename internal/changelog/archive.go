package changelog

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/custodian-dev/custodian/internal/logtail"
)

// A table's journal archive (<data>/journal/<table>/) holds the goleveldb
// journals its live databases no longer need, as G-N.log (generation G's
// file N, both as decimal numbers padded to 8 digits), and a record of
// each generation after 0 (gen-G.json). A journal is put there by a hard
// link (a copy where links do not work) before goleveldb removes it from
// the live directory, and when a live directory is replaced or moved away
// (Seal); the live directory's own .log files are the newest part.

// JournalFile is one journal file of a table: archived or live.
type JournalFile struct {
	Gen  uint64
	Num  uint64
	Path string
	// Alt is where the file is once archived (a live file that goleveldb
	// removes between a listing and its read is read from there).
	Alt string
}

// ArchivedName is the archive's name of generation gen's journal num.
func ArchivedName(gen, num uint64) string { return fmt.Sprintf("%08d-%08d.log", gen, num) }

// ArchivedJournals lists an archive's journal files in (generation, file
// number) order; none when it does not exist.
func ArchivedJournals(archive string) ([]JournalFile, error) {
	ents, err := os.ReadDir(archive)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("changelog: %w", err)
	}
	var out []JournalFile
	for _, e := range ents {
		var g, n uint64
		if _, err := fmt.Sscanf(e.Name(), "%d-%d.log", &g, &n); err != nil || e.Name() != ArchivedName(g, n) || !e.Type().IsRegular() {
			continue
		}
		out = append(out, JournalFile{Gen: g, Num: n, Path: filepath.Join(archive, e.Name())})
	}
	sortFiles(out)
	return out, nil
}

func sortFiles(fs []JournalFile) {
	sort.Slice(fs, func(a, b int) bool {
		if fs[a].Gen != fs[b].Gen {
			return fs[a].Gen < fs[b].Gen
		}
		return fs[a].Num < fs[b].Num
	})
}

// LiveJournals lists the journals of the database directory dir as
// generation gen's files.
func LiveJournals(dir string, gen uint64) ([]JournalFile, error) {
	names, err := logtail.Journals(dir)
	if err != nil {
		return nil, fmt.Errorf("changelog: %w", err)
	}
	out := make([]JournalFile, 0, len(names))
	for _, name := range names {
		var n uint64
		if _, err := fmt.Sscanf(name, "%d.log", &n); err != nil {
			continue
		}
		out = append(out, JournalFile{Gen: gen, Num: n, Path: filepath.Join(dir, name)})
	}
	return out, nil
}

// Keep puts the journal file num of the database directory dir
// (generation gen) into archive, fsynced, unless it is there already.
func Keep(dir, archive string, gen, num uint64) error {
	src := filepath.Join(dir, fmt.Sprintf("%06d.log", num))
	dst := filepath.Join(archive, ArchivedName(gen, num))
	if err := os.MkdirAll(archive, 0o755); err != nil {
		return fmt.Errorf("changelog: keep %s: %w", src, err)
	}
	err := os.Link(src, dst)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		if same, serr := sameFile(src, dst); serr != nil {
			return fmt.Errorf("changelog: keep %s: %w", src, serr)
		} else if !same {
			// Another file under that name: a copy made earlier where
			// links do not work (a prefix of the live file, which may
			// have grown since) is replaced; anything else is refused,
			// never overwritten.
			prefix, perr := isPrefix(dst, src)
			if perr != nil {
				return fmt.Errorf("changelog: keep %s: %w", src, perr)
			}
			if !prefix {
				return fmt.Errorf("changelog: keep %s: the archive holds another file named %s", src, filepath.Base(dst))
			}
			if err := copySynced(src, dst); err != nil {
				return fmt.Errorf("changelog: keep %s: %w", src, err)
			}
		}
	case errors.Is(err, fs.ErrNotExist):
		return nil // nothing to keep (removed by an earlier Keep and remove)
	default:
		if err := copySynced(src, dst); err != nil {
			return fmt.Errorf("changelog: keep %s: %w", src, err)
		}
	}
	if err := syncDir(archive); err != nil {
		return fmt.Errorf("changelog: keep %s: %w", src, err)
	}
	return nil
}

// Seal puts every journal of the database directory dir, generation gen,
// into archive (Keep), before dir is replaced or moved away.
func Seal(dir, archive string, gen uint64) error {
	files, err := LiveJournals(dir, gen)
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := Keep(dir, archive, f.Gen, f.Num); err != nil {
			return err
		}
	}
	return nil
}

// copySynced copies src to dst (through a temp file, fsynced).
func copySynced(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".tmp"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// sameFile reports whether a and b are the same file (hard links).
func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// isPrefix reports whether the file a is a prefix of the file b.
func isPrefix(a, b string) (bool, error) {
	ab, err := os.ReadFile(a)
	if err != nil {
		return false, err
	}
	bb, err := os.ReadFile(b)
	if err != nil {
		return false, err
	}
	return len(ab) <= len(bb) && string(bb[:len(ab)]) == string(ab), nil
}

// ArchiveEmpty reports whether archive holds no journal and no generation
// record (or does not exist).
func ArchiveEmpty(archive string) (bool, error) {
	files, err := ArchivedJournals(archive)
	if err != nil {
		return false, err
	}
	gens, err := archivedGenerations(archive)
	if err != nil {
		return false, err
	}
	return len(files) == 0 && len(gens) == 0, nil
}
