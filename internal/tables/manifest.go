package tables

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// manifestFile is the name of a backup's manifest.
const manifestFile = "manifest.json"

// backupIDFormat is the time part of a backup id: UTC, fixed width, so that
// ids sort by creation time; a short random suffix follows.
const backupIDFormat = "20060102T150405.000000000Z"

// ErrBackupInvalid marks a backup that cannot be used: its manifest is
// missing or wrong, or its data does not verify against the manifest. A
// restore that fails with it can try the next older backup.
var ErrBackupInvalid = errors.New("backup invalid")

func newBackupID(created time.Time) string {
	return created.UTC().Format(backupIDFormat) + "-" + randHex(3)
}

// validBackupID refuses ids that are not a single plain path element.
func validBackupID(id string) error {
	if id == "" || strings.HasPrefix(id, ".") || strings.ContainsAny(id, `/\`) || len(id) > 128 {
		return apierr.New(apierr.InvalidRequest, "invalid backup id %q", id)
	}
	return nil
}

func writeManifest(dir string, m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, manifestFile), append(b, '\n'), true)
}

func readManifest(dir string) (Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil {
		return Manifest{}, err
	}
	return parseManifest(b)
}

// parseManifest decodes a manifest.json; one that does not decode or lacks
// id, table or digest wraps ErrBackupInvalid.
func parseManifest(b []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("%s: %w: %v", manifestFile, ErrBackupInvalid, err)
	}
	if m.ID == "" || m.Table == "" || m.Digest == "" {
		return m, fmt.Errorf("%s: %w: missing id, table or digest", manifestFile, ErrBackupInvalid)
	}
	return m, nil
}

// Backups lists the backups of a table, newest first. A backup directory
// without a readable manifest is skipped (it cannot be restored from).
func (s *Store) Backups(table string) ([]Manifest, error) {
	if err := validName(table); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(s.backupDir(table))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, opErrorf(table, "backups", "%w", err)
	}
	var ms []Manifest
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		m, err := readManifest(filepath.Join(s.backupDir(table), e.Name()))
		if err != nil || m.ID != e.Name() || m.Table != table {
			continue
		}
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].ID > ms[j].ID })
	return ms, nil
}

// BackupDir is the directory of a backup (backups/<table>/<id>).
func (s *Store) BackupDir(table, id string) (string, error) {
	if err := validName(table); err != nil {
		return "", err
	}
	if err := validBackupID(id); err != nil {
		return "", err
	}
	return filepath.Join(s.backupDir(table), id), nil
}

// Prune deletes all but the newest keep backups of table and returns the
// manifests it deleted. keep <= 0 means Options.BackupRetention (default 7).
func (s *Store) Prune(table string, keep int) ([]Manifest, error) {
	if keep <= 0 {
		keep = s.opts.BackupRetention
	}
	ms, err := s.Backups(table)
	if err != nil {
		return nil, err
	}
	if len(ms) <= keep {
		return nil, nil
	}
	var pruned []Manifest
	for _, m := range ms[keep:] {
		dir := filepath.Join(s.backupDir(table), m.ID)
		// Rename first so that a crash never leaves a half-deleted backup
		// that still looks whole: the .tmp- name is cleaned by OpenStore.
		gone := filepath.Join(s.backupDir(table), tmpPrefix+"prune-"+m.ID)
		if err := os.Rename(dir, gone); err != nil {
			return pruned, opErrorf(table, "prune", "%s: %w", m.ID, err)
		}
		if err := os.RemoveAll(gone); err != nil {
			return pruned, opErrorf(table, "prune", "%s: %w", m.ID, err)
		}
		pruned = append(pruned, m)
	}
	if err := syncDir(s.backupDir(table)); err != nil {
		return pruned, opErrorf(table, "prune", "%w", err)
	}
	// Table files no remaining backup links to.
	if _, err := pruneShared(filepath.Join(s.backupDir(table), sharedDir)); err != nil {
		return pruned, opErrorf(table, "prune", "shared table files: %w", err)
	}
	return pruned, nil
}
