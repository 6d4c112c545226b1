package logtail

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Cut is a torn tail that Repair cut off a log file.
type Cut struct {
	File    string `json:"file"`          // base name: 000012.log or MANIFEST-000003
	Size    int64  `json:"size"`          // bytes before the cut
	Offset  int64  `json:"offset"`        // the new length: the end of the last whole record
	Dropped int64  `json:"bytes_dropped"` // Size - Offset
	Reason  string `json:"reason"`        // what Inspect found (see Tail.Reason)
}

func (c Cut) String() string {
	return fmt.Sprintf("%s: cut %d torn bytes at offset %d (%s)", c.File, c.Dropped, c.Offset, c.Reason)
}

// Repair cuts the torn tail (see Inspect) off the log files of the
// goleveldb database in dir that an interrupted append can leave torn:
// every journal (NNNNNN.log) and the MANIFEST that CURRENT names. It must
// run while the database is closed, before it is opened.
//
// Every journal, not only the newest: goleveldb's journal writer forgets a
// failed write when the memtable rotates (journal.Writer.Reset clears its
// error), so a write that hit ENOSPC half way can leave its torn record at
// the end of a journal that a newer one follows; that record was never
// acknowledged either.
//
// Damage (a tail that is not torn, anything before the tail) is left as it
// is, for the strict open to report as corruption. A file that does not
// exist is skipped (the open reports what is missing). Each cut is fsynced
// before Repair returns.
func Repair(dir string) ([]Cut, error) {
	files, err := Journals(dir)
	if err != nil {
		return nil, err
	}
	if m, err := CurrentManifest(dir); err != nil {
		return nil, err
	} else if m != "" {
		files = append(files, m)
	}
	var cuts []Cut
	for _, name := range files {
		c, ok, err := repairFile(filepath.Join(dir, name))
		if err != nil {
			return cuts, err
		}
		if ok {
			cuts = append(cuts, c)
		}
	}
	return cuts, nil
}

// repairFile cuts path's torn tail, if it has one.
func repairFile(path string) (Cut, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Cut{}, false, nil
	}
	if err != nil {
		return Cut{}, false, fmt.Errorf("logtail: %w", err)
	}
	t := Inspect(b)
	if t.Whole() || !t.Torn {
		return Cut{}, false, nil
	}
	if err := truncateSync(path, t.Valid); err != nil {
		return Cut{}, false, fmt.Errorf("logtail: cut %s at %d: %w", path, t.Valid, err)
	}
	return Cut{File: filepath.Base(path), Size: t.Size, Offset: t.Valid, Dropped: t.Size - t.Valid, Reason: t.Reason}, true, nil
}

func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// Journals are the base names of the journals in dir (goleveldb names them
// %06d.log), in file-number order; none when dir does not exist.
func Journals(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("logtail: %w", err)
	}
	type journal struct {
		num  int64
		name string
	}
	var js []journal
	for _, e := range ents {
		if num, ok := strings.CutSuffix(e.Name(), ".log"); ok && e.Type().IsRegular() {
			if n, err := strconv.ParseInt(num, 10, 64); err == nil && n >= 0 {
				js = append(js, journal{n, e.Name()})
			}
		}
	}
	sort.Slice(js, func(a, b int) bool { return js[a].num < js[b].num })
	out := make([]string, len(js))
	for k, j := range js {
		out[k] = j.name
	}
	return out, nil
}

// NewestJournal is the base name of the highest-numbered journal in dir,
// or "" when there is none.
func NewestJournal(dir string) (string, error) {
	js, err := Journals(dir)
	if err != nil || len(js) == 0 {
		return "", err
	}
	return js[len(js)-1], nil
}

// CurrentManifest is the base name of the MANIFEST that dir's CURRENT
// names, or "" when CURRENT is missing or does not name one (the open
// reports that).
func CurrentManifest(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "CURRENT"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("logtail: %w", err)
	}
	name := strings.TrimSuffix(string(b), "\n")
	if !strings.HasPrefix(name, "MANIFEST-") || strings.ContainsAny(name, "/\\\n") {
		return "", nil
	}
	return name, nil
}
