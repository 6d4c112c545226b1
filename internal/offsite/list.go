package offsite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

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
	objs, err := b.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("offsite: list %s: %w", table, err)
	}
	prefix := objectPrefix(b.node, table) + "backups/"
	var names []string
	for _, o := range objs {
		if strings.HasPrefix(o.Name, prefix) && strings.HasSuffix(o.Name, ".json") && !o.Deleted {
			names = append(names, o.Name)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(names)))
	out := make([]Listing, 0, len(names))
	for _, name := range names {
		data, err := b.obs.GetBytes(ctx, name)
		if err != nil {
			return out, fmt.Errorf("offsite: %s: %w", name, err)
		}
		var l Listing
		if err := json.Unmarshal(data, &l.BackupManifest); err != nil {
			return out, fmt.Errorf("offsite: %s: %w", name, err)
		}
		if want := strings.TrimSuffix(strings.TrimPrefix(name, prefix), ".json"); l.ID != want {
			return out, fmt.Errorf("offsite: %s: the manifest names backup %q", name, l.ID)
		}
		for _, f := range l.Files {
			l.FileBytes += f.Size
		}
		out = append(out, l)
	}
	return out, nil
}
