package offsite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/syndtr/goleveldb/leveldb/journal"

	"github.com/custodian-dev/custodian/internal/changelog"
)

// ErrNothingOffsite: the bucket holds no backup of the table.
var ErrNothingOffsite = errors.New("no off-site backup")

// Rebuilt says what Rebuild fetched.
type Rebuilt struct {
	BackupID       string
	BackupBytes    int64
	JournalRecords int64
	Generations    int
	// Skipped are the newer backups that could not be fetched whole (an
	// object missing or whose SHA-256 does not match), with why.
	Skipped []string
}

// Rebuild fetches table's newest off-site backup that downloads whole
// into <root>/backups/<table>/<id>/ and the table's journal into
// <root>/journal/<table>/, for a node whose data directory lost the
// table: the ordinary restore (backup plus journal) then brings it back.
// The table must have nothing on disk.
func Rebuild(ctx context.Context, js jetstream.JetStream, b *Backups, cfg Config, root, table string) (Rebuilt, error) {
	var res Rebuilt
	ids, err := b.List(ctx, table)
	if err != nil {
		return res, err
	}
	if len(ids) == 0 {
		return res, fmt.Errorf("offsite: table %s: %w", table, ErrNothingOffsite)
	}
	for _, id := range ids {
		dir := filepath.Join(root, "backups", table, id)
		n, err := b.Download(ctx, table, id, dir)
		if err != nil {
			os.RemoveAll(dir)
			if ctx.Err() != nil {
				return res, err
			}
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s: %v", id, err))
			continue
		}
		res.BackupID, res.BackupBytes = id, n
		break
	}
	if res.BackupID == "" {
		return res, fmt.Errorf("offsite: table %s: no off-site backup downloads whole: %v", table, res.Skipped)
	}
	recs, gens, err := FetchJournal(ctx, js, cfg, table, filepath.Join(root, "journal", table))
	res.JournalRecords, res.Generations = recs, gens
	if err != nil {
		return res, err
	}
	return res, nil
}

// FetchJournal writes table's journal from CUSTODIAN_JOURNAL into archive
// (a table's local journal archive that holds nothing yet): each
// generation's record as gen-N.json (committed: it served) and each
// generation's records, in stream order, into one journal file
// GGGGGGGG-00000001.log in the LevelDB log format, as goleveldb wrote
// them. It returns the records and generation records written.
func FetchJournal(ctx context.Context, js jetstream.JetStream, cfg Config, table, archive string) (records int64, gens int, err error) {
	rd := newStreamReader(js, JournalStream, journalSubject(cfg.Prefix, cfg.Node, table), 5*time.Second)
	defer rd.stop()
	pending, err := rd.pending(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("offsite: journal of %s: %w", table, err)
	}
	if err := os.MkdirAll(archive, 0o755); err != nil {
		return 0, 0, err
	}
	w := journalFiles{dir: archive, open: map[uint64]*journalFile{}}
	defer w.closeAll()
	for left := pending; left > 0; left-- {
		m, err := rd.next(ctx)
		if err != nil {
			return records, gens, fmt.Errorf("offsite: journal of %s: %d messages left: %w", table, left, err)
		}
		if m.Headers().Get(HeaderGenerationRecord) != "" {
			var g changelog.Generation
			if err := json.Unmarshal(m.Data(), &g); err != nil {
				return records, gens, fmt.Errorf("offsite: journal of %s: generation record: %w", table, err)
			}
			if err := changelog.MarkCommitted(archive, g); err != nil {
				return records, gens, err
			}
			gens++
			continue
		}
		gen, err := strconv.ParseUint(m.Headers().Get(HeaderGeneration), 10, 64)
		if err != nil {
			return records, gens, fmt.Errorf("offsite: journal of %s: message %s: %w", table, HeaderGeneration, err)
		}
		if err := w.write(gen, m.Data()); err != nil {
			return records, gens, err
		}
		records++
	}
	return records, gens, w.closeAll()
}

// journalFiles writes one journal file per generation.
type journalFiles struct {
	dir  string
	open map[uint64]*journalFile
}

type journalFile struct {
	f *os.File
	w *journal.Writer
}

func (j *journalFiles) write(gen uint64, rec []byte) error {
	jf, ok := j.open[gen]
	if !ok {
		f, err := os.OpenFile(filepath.Join(j.dir, changelog.ArchivedName(gen, 1)), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return fmt.Errorf("offsite: %w", err)
		}
		jf = &journalFile{f: f, w: journal.NewWriter(f)}
		j.open[gen] = jf
	}
	rw, err := jf.w.Next()
	if err != nil {
		return err
	}
	if _, err := rw.Write(rec); err != nil {
		return err
	}
	return nil
}

// closeAll flushes, fsyncs and closes every file (and the directory).
func (j *journalFiles) closeAll() error {
	var errs []error
	for gen, jf := range j.open {
		err := jf.w.Close()
		if err == nil {
			err = jf.f.Sync()
		}
		errs = append(errs, err, jf.f.Close())
		delete(j.open, gen)
	}
	d, err := os.Open(j.dir)
	if err == nil {
		errs = append(errs, d.Sync(), d.Close())
	}
	return errors.Join(errs...)
}
