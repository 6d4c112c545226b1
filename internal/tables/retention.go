package tables

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/custodian-dev/custodian/internal/changelog"
)

// JournalPruned says what PruneJournal removed.
type JournalPruned struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// Keep is the position from which the archive is kept: the oldest
	// backup in the table's history (0 when nothing was removed).
	Keep uint64 `json:"keep"`
}

// PruneJournal removes the archived journal files that no backup in the
// table's history needs: every file of a generation older than the oldest
// such backup's, and the files of its generation that end at or before its
// position (a file is known to end there when the next file starts at most
// one after it). With no backup in the history nothing is removed: the
// journal is then the only copy of the table's writes outside the table.
// Called after the backups are pruned (Store.Prune).
func (t *Table) PruneJournal() (JournalPruned, error) {
	bs, err := t.store.Backups(t.name)
	if err != nil {
		return JournalPruned{}, opErrorf(t.name, "prune journal", "%w", err)
	}
	var keep uint64
	found := false
	for _, m := range bs {
		ok, err := t.InHistory(m)
		if err != nil {
			return JournalPruned{}, err
		}
		if ok && (!found || *m.Position < keep) {
			keep, found = *m.Position, true
		}
	}
	if !found {
		return JournalPruned{}, nil
	}
	kg, ks := changelog.SplitPosition(keep)
	arch := t.store.journalPath(t.name)
	t.journalMu.Lock()
	defer t.journalMu.Unlock()
	files, err := changelog.ArchivedJournals(arch)
	if err != nil {
		return JournalPruned{}, opErrorf(t.name, "prune journal", "%w", err)
	}
	var gone []changelog.JournalFile
	for i, f := range files {
		switch {
		case f.Gen < kg:
			gone = append(gone, f)
		case f.Gen == kg && i+1 < len(files) && files[i+1].Gen == kg:
			first, ok, err := changelog.FirstSequence(files[i+1].Path)
			if err != nil {
				return JournalPruned{}, opErrorf(t.name, "prune journal", "%w", err)
			}
			if ok && first <= ks+1 {
				gone = append(gone, f)
			}
		}
	}
	res := JournalPruned{Keep: keep}
	var errs []error
	for _, f := range gone {
		fi, err := os.Stat(f.Path)
		if err == nil {
			err = os.Remove(f.Path)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		res.Files++
		res.Bytes += fi.Size()
	}
	gens, err := os.ReadDir(arch)
	if err != nil {
		errs = append(errs, err)
	}
	for _, e := range gens {
		var n uint64
		if _, serr := fmt.Sscanf(e.Name(), "gen-%d.json", &n); serr == nil && n < kg {
			if err := os.Remove(filepath.Join(arch, e.Name())); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if res.Files > 0 {
		errs = append(errs, syncDir(arch))
	}
	if err := errors.Join(errs...); err != nil {
		return res, opErrorf(t.name, "prune journal", "%w", err)
	}
	return res, nil
}
