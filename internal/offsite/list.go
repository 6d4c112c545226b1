package offsite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNoBucket: the bucket CUSTODIAN_BACKUPS does not exist (no supervisor
// with --offsite on has run against this NATS system).
var ErrNoBucket = errors.New("offsite: no bucket " + BackupBucket)

// OpenBackups opens the bucket as it is, for reading: unlike NewBackups it
// neither creates it nor changes its configuration (its replicas), so that
// a tool looking at the copies cannot alter them. A missing bucket is
// ErrNoBucket.
func OpenBackups(ctx context.Context, js jetstream.JetStream, node string) (*Backups, error) {
	obs, err := js.ObjectStore(ctx, BackupBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) || errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, ErrNoBucket
	}
	if err != nil {
		return nil, fmt.Errorf("offsite: bucket %s: %w", BackupBucket, err)
	}
	return &Backups{obs: obs, node: node}, nil
}

// Listing is one backup of a table in the bucket: its manifest object and
// the sum of the sizes of the files it names (the bytes a download
// fetches; files shared with other backups are stored once).
type Listing struct {
	BackupManifest
	FileBytes int64
}

// Manifests returns the manifests of table's backups in the bucket, newest
// first. A manifest object that cannot be read or decoded is an error:
// the bucket holds something the restore could not use either.
func (b *Backups) Manifests(ctx context.Context, table string) ([]Listing, error) {
	ids, err := b.List(ctx, table)
	if err != nil {
		return nil, err
	}
	out := make([]Listing, 0, len(ids))
	for _, id := range ids {
		bm, err := b.manifest(ctx, table, id)
		if err != nil {
			return out, err
		}
		l := Listing{BackupManifest: bm}
		for _, f := range l.Files {
			l.FileBytes += f.Size
		}
		out = append(out, l)
	}
	return out, nil
}

// manifest reads the manifest object of table's backup id.
func (b *Backups) manifest(ctx context.Context, table, id string) (BackupManifest, error) {
	name := b.manifestObject(table, id)
	data, err := b.obs.GetBytes(ctx, name)
	if err != nil {
		return BackupManifest{}, fmt.Errorf("offsite: %s: %w", name, err)
	}
	var bm BackupManifest
	if err := json.Unmarshal(data, &bm); err != nil {
		return BackupManifest{}, fmt.Errorf("offsite: %s: %w", name, err)
	}
	if bm.ID != id {
		return BackupManifest{}, fmt.Errorf("offsite: %s: the manifest names backup %q", name, bm.ID)
	}
	return bm, nil
}
