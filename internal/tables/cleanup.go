package tables

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// cleanup removes or finishes what interrupted operations left:
//
//   - tables/.tmp-*: scratch of create, rewrite, restore, salvage: deleted;
//   - tables/.old-<t>: a rewrite swap was interrupted. With tables/<t>
//     missing the old directory is renamed back (roll back: it holds every
//     acknowledged write); with tables/<t> in place the swap finished and
//     the old directory is deleted;
//   - tables/.ready-<t>: a restore or salvage passed its commit point: the
//     live directory, if any, moves to quarantine and .ready-<t> takes its
//     place (roll forward);
//   - custodian-dead.json.tmp inside table directories: deleted;
//   - backups/<t>/.tmp-*: an unfinished backup or prune: deleted.
func (s *Store) cleanup() error {
	tablesPath := filepath.Join(s.root, tablesDir)
	ents, err := os.ReadDir(tablesPath)
	if err != nil {
		return err
	}
	changed := false
	// .tmp- first, then .old-, then .ready- (ReadDir sorts by name, so sort
	// by kind explicitly).
	for _, kind := range []string{tmpPrefix, oldPrefix, readyPrefix} {
		for _, e := range ents {
			name := e.Name()
			if !strings.HasPrefix(name, kind) {
				continue
			}
			path := filepath.Join(tablesPath, name)
			changed = true
			switch kind {
			case tmpPrefix:
				if err := os.RemoveAll(path); err != nil {
					return err
				}
			case oldPrefix:
				if err := s.finishSwap(path, strings.TrimPrefix(name, oldPrefix)); err != nil {
					return err
				}
			case readyPrefix:
				if err := s.finishReady(path, strings.TrimPrefix(name, readyPrefix)); err != nil {
					return err
				}
			}
		}
	}
	if changed {
		if err := syncDir(tablesPath); err != nil {
			return err
		}
	}
	ents, err = os.ReadDir(tablesPath)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			tmp := filepath.Join(tablesPath, e.Name(), deadFile+".tmp")
			if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	bents, err := os.ReadDir(filepath.Join(s.root, backupsDir))
	if err != nil {
		return err
	}
	for _, be := range bents {
		if !be.IsDir() {
			continue
		}
		bdir := filepath.Join(s.root, backupsDir, be.Name())
		ents, err := os.ReadDir(bdir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), tmpPrefix) {
				if err := os.RemoveAll(filepath.Join(bdir, e.Name())); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (s *Store) finishSwap(old, name string) error {
	if !validTableDirName(name) {
		return os.RemoveAll(old)
	}
	live := s.tableDir(name)
	ok, err := exists(live)
	if err != nil {
		return err
	}
	if ok {
		return os.RemoveAll(old)
	}
	if err := os.Rename(old, live); err != nil {
		return fmt.Errorf("roll back the swap of %s: %w", name, err)
	}
	return nil
}

func (s *Store) finishReady(ready, name string) error {
	if !validTableDirName(name) {
		return os.RemoveAll(ready)
	}
	live := s.tableDir(name)
	ok, err := exists(live)
	if err != nil {
		return err
	}
	if ok {
		if err := s.seal(name, live); err != nil {
			// The journals stay inside the quarantined copy; the roll
			// forward goes on (a failure here must not stop the node).
			s.cleanupErrs = append(s.cleanupErrs, fmt.Errorf("table %s: roll forward the restore: %w", name, err))
		}
		if _, err := s.quarantine(name, live); err != nil {
			return fmt.Errorf("roll forward the restore of %s: %w", name, err)
		}
	}
	if err := os.Rename(ready, live); err != nil {
		return fmt.Errorf("roll forward the restore of %s: %w", name, err)
	}
	return nil
}

func validTableDirName(name string) bool { return validName(name) == nil }
