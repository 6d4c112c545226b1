package changelog

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// GenerationStride separates the positions of two generations: a position
// is generation × GenerationStride + goleveldb's sequence number, so that
// 3000000000451 is the write of sequence 451 in generation 3. Positions
// are unique per table and grow with time (a new generation has a higher
// number than every earlier one); a generation's sequence numbers stay far
// below the stride (10^13 writes).
const GenerationStride = 10_000_000_000_000

// PositionOf is the position of sequence seq in generation gen.
func PositionOf(gen, seq uint64) uint64 { return gen*GenerationStride + seq }

// SplitPosition is the generation and sequence of a position.
func SplitPosition(pos uint64) (gen, seq uint64) {
	return pos / GenerationStride, pos % GenerationStride
}

// GenerationFile is the name of the generation record in a live table's
// directory (and, for generation N, "gen-N.json" in the table's journal
// archive). A directory without one is generation 0: a table as it was
// created, never rewritten, restored or salvaged.
const GenerationFile = "JOURNAL-GENERATION"

// Generation describes one goleveldb database that was (or is) a table's
// live database. Every rewrite, restore and salvage starts a new one.
type Generation struct {
	Number uint64 `json:"generation"`
	// SeqBase is the sequence number of the database's initial state: its
	// journal's records up to it are the copy it was made from (a
	// rewrite's copy, a restore's backup and replay), not writes of the
	// table; the table's writes in it have higher sequence numbers.
	SeqBase uint64 `json:"seq_base"`
	// From is the position whose state the database started with (the
	// table at a rewrite's swap, the last write a restore replayed), 0
	// with Root.
	From uint64 `json:"from"`
	// Root: the database did not start from a known position (a salvage,
	// a restore from a backup without one); no earlier write can be
	// replayed onto it.
	Root    bool      `json:"root,omitempty"`
	Reason  string    `json:"reason"` // rewrite, restore, salvage, create
	Created time.Time `json:"created"`
	// Committed (in the archive's record): the database served as the
	// table's live database (MarkCommitted, at its first open). A record
	// without it is of a rewrite or restore that never reached its
	// commit (a crash, a rollback): never the current generation.
	Committed bool `json:"committed,omitempty"`
}

// Parent is the generation that holds From (none with Root).
func (g Generation) Parent() (uint64, bool) {
	if g.Root || g.Number == 0 {
		return 0, false
	}
	p, _ := SplitPosition(g.From)
	return p, true
}

// archiveGenName is the name of generation n's record in an archive.
func archiveGenName(n uint64) string { return fmt.Sprintf("gen-%d.json", n) }

// ReadGeneration reads the generation record of the database directory
// dir; generation 0 when it has none.
func ReadGeneration(dir string) (Generation, error) {
	return readGenFile(filepath.Join(dir, GenerationFile), 0)
}

// readGenFile reads a generation record at path; a missing file is the
// empty generation number missing.
func readGenFile(path string, missing uint64) (Generation, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Generation{Number: missing, Root: missing != 0}, nil
	}
	if err != nil {
		return Generation{}, fmt.Errorf("changelog: generation: %w", err)
	}
	var g Generation
	if err := json.Unmarshal(b, &g); err != nil {
		return Generation{}, fmt.Errorf("changelog: generation %s: %w", path, err)
	}
	return g, nil
}

// WriteGeneration records g in the database directory dir and in the
// archive (the archive's copy first, both fsynced), before the database
// serves.
func WriteGeneration(dir, archive string, g Generation) error {
	b, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("changelog: generation: %w", err)
	}
	if err := os.MkdirAll(archive, 0o755); err != nil {
		return fmt.Errorf("changelog: generation: %w", err)
	}
	if err := writeSynced(filepath.Join(archive, archiveGenName(g.Number)), b); err != nil {
		return err
	}
	return writeSynced(filepath.Join(dir, GenerationFile), b)
}

// NextGeneration is the number a new generation of the table whose
// archive is archive and whose live generation is live takes: one more
// than every generation either knows.
func NextGeneration(archive string, live uint64) (uint64, error) {
	gens, err := archivedGenerations(archive)
	if err != nil {
		return 0, err
	}
	n := live
	for g := range gens {
		n = max(n, g)
	}
	files, err := ArchivedJournals(archive)
	if err != nil {
		return 0, err
	}
	for _, f := range files {
		n = max(n, f.Gen)
	}
	return n + 1, nil
}

// archivedGenerations reads every generation record of an archive.
func archivedGenerations(archive string) (map[uint64]Generation, error) {
	ents, err := os.ReadDir(archive)
	if errors.Is(err, fs.ErrNotExist) {
		return map[uint64]Generation{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("changelog: %w", err)
	}
	out := map[uint64]Generation{}
	for _, e := range ents {
		var n uint64
		if _, err := fmt.Sscanf(e.Name(), "gen-%d.json", &n); err != nil || e.Name() != archiveGenName(n) {
			continue
		}
		g, err := readGenFile(filepath.Join(archive, e.Name()), n)
		if err != nil {
			return nil, err
		}
		out[n] = g
	}
	return out, nil
}

// writeSynced writes b to path through a temp file, fsyncs it, renames it
// and fsyncs the directory.
func writeSynced(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("changelog: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("changelog: write %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// MarkCommitted records in the archive that generation g serves as the
// table's live database, unless its record says so already.
func MarkCommitted(archive string, g Generation) error {
	if g.Number == 0 {
		return nil
	}
	have, err := readGenFile(filepath.Join(archive, archiveGenName(g.Number)), g.Number)
	if err == nil && have.Committed {
		return nil
	}
	g.Committed = true
	b, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("changelog: generation: %w", err)
	}
	if err := os.MkdirAll(archive, 0o755); err != nil {
		return fmt.Errorf("changelog: generation: %w", err)
	}
	return writeSynced(filepath.Join(archive, archiveGenName(g.Number)), b)
}

// CurrentGeneration is the newest committed generation the archive
// records (generation 0 when none is): the table's live database's, for a
// table whose live directory is missing or whose own record cannot be
// read.
func CurrentGeneration(archive string) (Generation, error) {
	gens, err := archivedGenerations(archive)
	if err != nil {
		return Generation{}, err
	}
	cur := Generation{}
	for n, g := range gens {
		if g.Committed && n > cur.Number {
			cur = g
		}
	}
	return cur, nil
}

// WriteLocalGeneration writes g as the record of the database directory
// dir only (fsynced): a record rebuilt from the archive's.
func WriteLocalGeneration(dir string, g Generation) error {
	g.Committed = false
	b, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("changelog: generation: %w", err)
	}
	return writeSynced(filepath.Join(dir, GenerationFile), b)
}
