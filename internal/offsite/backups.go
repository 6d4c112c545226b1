package offsite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/tables"
)

// Bucket layout, under <node>/<table>/:
//
//	files/<sha256>        a backup file, stored once whatever backups hold it
//	backups/<id>.json     a backup's manifest: its manifest.json as the
//	                      backup holds it and the list of its files
//
// The manifest object is stored last, after every file it names, so that a
// manifest in the bucket always names complete files.

// BackupManifest is a backup's manifest object.
type BackupManifest struct {
	ID string `json:"id"`
	// Manifest is the backup's own manifest.json, as written.
	Manifest json.RawMessage `json:"manifest"`
	Files    []BackupFile    `json:"files"`
}

// BackupFile is one file of a backup, as its own manifest lists it.
type BackupFile = tables.BackupFile

// Uploaded says what an upload stored.
type Uploaded struct {
	StoredBytes int64 // new objects
	ReusedBytes int64 // files the bucket already held
}

// Backups keeps a node's backups in the bucket CUSTODIAN_BACKUPS.
type Backups struct {
	obs  jetstream.ObjectStore
	node string
	// tables serializes Upload and Sync per table: a Sync must not remove
	// the files of an upload whose manifest is not stored yet.
	tables sync.Map // table -> *sync.Mutex
}

// lock takes table's upload and sync lock.
func (b *Backups) lock(table string) func() {
	m, _ := b.tables.LoadOrStore(table, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// NewBackups ensures the bucket (replicas as cfg says).
func NewBackups(ctx context.Context, js jetstream.JetStream, cfg Config) (*Backups, error) {
	cfg = cfg.withDefaults()
	var obs jetstream.ObjectStore
	err := retrying(ctx, func(ctx context.Context) (err error) {
		obs, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
			Bucket:      BackupBucket,
			Description: "Custodian: every node's backups, each file stored once",
			Replicas:    cfg.Replicas,
			Storage:     jetstream.FileStorage,
		})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("offsite: bucket %s: %w", BackupBucket, err)
	}
	return &Backups{obs: obs, node: cfg.Node}, nil
}

func (b *Backups) fileObject(table, sum string) string {
	return objectPrefix(b.node, table) + "files/" + sum
}

func (b *Backups) manifestObject(table, id string) string {
	return objectPrefix(b.node, table) + "backups/" + id + ".json"
}

// Upload stores the backup in dir (its files, then its manifest).
func (b *Backups) Upload(ctx context.Context, table, id, dir string) (Uploaded, error) {
	defer b.lock(table)()
	return b.upload(ctx, table, id, dir)
}

func (b *Backups) upload(ctx context.Context, table, id, dir string) (Uploaded, error) {
	var up Uploaded
	ents, err := os.ReadDir(dir)
	if err != nil {
		return up, fmt.Errorf("offsite: upload %s/%s: %w", table, id, err)
	}
	own, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return up, fmt.Errorf("offsite: upload %s/%s: %w", table, id, err)
	}
	// The backup's manifest lists its files with their SHA-256 (computed
	// when the backup was taken); a file it does not list (a backup taken
	// before backups were file-level) is hashed now.
	var m tables.Manifest
	if err := json.Unmarshal(own, &m); err != nil {
		return up, fmt.Errorf("offsite: upload %s/%s: manifest: %w", table, id, err)
	}
	listed := map[string]BackupFile{}
	for _, f := range m.Files {
		listed[f.Name] = f
	}
	bm := BackupManifest{ID: id, Manifest: own}
	for _, e := range ents {
		if !e.Type().IsRegular() || e.Name() == "manifest.json" || e.Name() == "LOCK" || strings.HasPrefix(e.Name(), "LOG") {
			continue
		}
		f, err := b.uploadFile(ctx, table, filepath.Join(dir, e.Name()), listed[e.Name()], &up)
		if err != nil {
			return up, fmt.Errorf("offsite: upload %s/%s: %w", table, id, err)
		}
		bm.Files = append(bm.Files, f)
	}
	data, err := json.Marshal(bm)
	if err != nil {
		return up, err
	}
	if _, err := b.obs.PutBytes(ctx, b.manifestObject(table, id), data); err != nil {
		return up, fmt.Errorf("offsite: upload %s/%s: manifest: %w", table, id, err)
	}
	up.StoredBytes += int64(len(data))
	return up, nil
}

// uploadFile stores path under its SHA-256 unless the bucket holds it.
func (b *Backups) uploadFile(ctx context.Context, table, path string, f BackupFile, up *Uploaded) (BackupFile, error) {
	if f.SHA256 == "" {
		sum, size, err := tables.FileSHA256(path)
		if err != nil {
			return BackupFile{}, err
		}
		f = BackupFile{Name: filepath.Base(path), Size: size, SHA256: sum}
	}
	sum, size := f.SHA256, f.Size
	name := b.fileObject(table, sum)
	if info, err := b.obs.GetInfo(ctx, name); err == nil && info.Size == uint64(size) && !info.Deleted {
		up.ReusedBytes += size
		return f, nil
	} else if err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return f, err
	}
	r, err := os.Open(path)
	if err != nil {
		return f, err
	}
	defer r.Close()
	if _, err := b.obs.Put(ctx, jetstream.ObjectMeta{Name: name}, r); err != nil {
		return f, err
	}
	up.StoredBytes += size
	return f, nil
}

// List returns table's backup manifests in the bucket, newest first.
func (b *Backups) List(ctx context.Context, table string) ([]string, error) {
	objs, err := b.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("offsite: list %s: %w", table, err)
	}
	prefix := objectPrefix(b.node, table) + "backups/"
	var ids []string
	for _, o := range objs {
		if id, ok := strings.CutPrefix(o.Name, prefix); ok && !o.Deleted {
			ids = append(ids, strings.TrimSuffix(id, ".json"))
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	return ids, nil
}

// Tables lists the tables of the node the bucket holds backups of.
func (b *Backups) Tables(ctx context.Context) ([]string, error) {
	objs, err := b.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("offsite: list: %w", err)
	}
	seen := map[string]bool{}
	for _, o := range objs {
		rest, ok := strings.CutPrefix(o.Name, b.node+"/")
		if !ok || o.Deleted {
			continue
		}
		if t, _, ok := strings.Cut(rest, "/"); ok {
			seen[t] = true
		}
	}
	out := make([]string, 0, len(seen))
	for t := range seen {
		out = append(out, t)
	}
	sort.Strings(out)
	return out, nil
}

// Download writes the backup id of table into dir (created; its files
// checked against their SHA-256, then manifest.json).
func (b *Backups) Download(ctx context.Context, table, id, dir string) (int64, error) {
	bm, err := b.manifest(ctx, table, id)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	var n int64
	for _, f := range bm.Files {
		if f.Name != filepath.Base(f.Name) || f.Name == "manifest.json" {
			return n, fmt.Errorf("offsite: backup %s/%s: bad file name %q", table, id, f.Name)
		}
		if err := b.downloadFile(ctx, table, f, filepath.Join(dir, f.Name)); err != nil {
			return n, fmt.Errorf("offsite: backup %s/%s: %w", table, id, err)
		}
		n += f.Size
	}
	if err := writeFileSynced(filepath.Join(dir, "manifest.json"), bm.Manifest); err != nil {
		return n, err
	}
	return n, nil
}

// downloadFile fetches f into path and checks its size and SHA-256.
func (b *Backups) downloadFile(ctx context.Context, table string, f BackupFile, path string) error {
	r, err := b.obs.Get(ctx, b.fileObject(table, f.SHA256))
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	defer r.Close()
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), r)
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.Name, err)
	}
	if n != f.Size || hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return fmt.Errorf("%s: %d bytes with SHA-256 %x, the manifest says %d bytes %s", f.Name, n, h.Sum(nil), f.Size, f.SHA256)
	}
	return nil
}

func writeFileSynced(path string, b []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Synced says what Sync did.
type Synced struct {
	Uploaded []string // backups copied now (an earlier copy had failed)
	Pruned   []string // off-site backups removed (pruned locally)
	Files    int      // file objects no off-site backup names any more, removed
}

// Sync makes the bucket hold table's local backups: those it lacks (a copy
// that failed while NATS was down, a process stopped between a backup and
// its copy) are uploaded, oldest first. When the table has at least
// retention local backups, the off-site ones older than the oldest local
// one (pruned locally) are removed, and then the file objects no
// remaining manifest names. (A node that lost its disk has fewer local
// backups than retention: nothing off-site is removed then.) local maps
// backup ids to their directories.
func (b *Backups) Sync(ctx context.Context, table string, local map[string]string, retention int) (Synced, error) {
	defer b.lock(table)()
	var res Synced
	remote, err := b.List(ctx, table)
	if err != nil {
		return res, err
	}
	have := map[string]bool{}
	for _, id := range remote {
		have[id] = true
	}
	ids := make([]string, 0, len(local))
	for id := range local {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		if have[id] {
			continue
		}
		if _, err := b.upload(ctx, table, id, local[id]); err != nil {
			return res, err
		}
		res.Uploaded = append(res.Uploaded, id)
	}
	if len(ids) == 0 || len(ids) < retention {
		return res, nil
	}
	oldest := ids[0]
	for _, id := range remote {
		if id < oldest {
			if err := b.obs.Delete(ctx, b.manifestObject(table, id)); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
				return res, fmt.Errorf("offsite: prune %s/%s: %w", table, id, err)
			}
			res.Pruned = append(res.Pruned, id)
		}
	}
	if len(res.Pruned) == 0 {
		return res, nil
	}
	n, err := b.dropUnnamedFiles(ctx, table)
	res.Files = n
	return res, err
}

// dropUnnamedFiles removes table's file objects that no manifest names.
func (b *Backups) dropUnnamedFiles(ctx context.Context, table string) (int, error) {
	ms, err := b.Manifests(ctx, table)
	if err != nil {
		return 0, err
	}
	named := map[string]bool{}
	for _, bm := range ms {
		for _, f := range bm.Files {
			named[f.SHA256] = true
		}
	}
	objs, err := b.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	prefix := objectPrefix(b.node, table) + "files/"
	n := 0
	for _, o := range objs {
		sum, ok := strings.CutPrefix(o.Name, prefix)
		if !ok || o.Deleted || named[sum] {
			continue
		}
		if err := b.obs.Delete(ctx, o.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return n, err
		}
		n++
	}
	return n, nil
}
