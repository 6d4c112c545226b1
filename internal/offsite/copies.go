package offsite

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"
)

// Copies are a node's off-site copies as the supervisor uses them
// (supervisor.Offsite): the journal shipper, the backup bucket and the
// data directory that off-site backups are fetched into.
type Copies struct {
	Ship    *Shipper
	Backups *Backups
	Data    string
	behind  atomic.Bool // a copy failed since the last TakeBehind
}

// UploadBackup copies a backup off-site.
func (c *Copies) UploadBackup(ctx context.Context, table, id, dir string) (int64, int64, error) {
	up, err := c.Backups.Upload(ctx, table, id, dir)
	if err != nil {
		c.behind.Store(true)
	}
	return up.StoredBytes, up.ReusedBytes, err
}

// TakeBehind reports whether a copy failed since the last call (and
// clears it): the caller brings the bucket in line soon.
func (c *Copies) TakeBehind() bool { return c.behind.Swap(false) }

// MarkBehind asks for the bucket to be brought in line soon.
func (c *Copies) MarkBehind() { c.behind.Store(true) }

// JournalLag is the table's shipping lag and last shipping error.
func (c *Copies) JournalLag(table string) (time.Duration, error) {
	st, ok := c.Ship.Status(table)
	if !ok {
		return 0, nil
	}
	return st.Lag, st.Err
}

// FetchBackup downloads the table's newest off-site backup not in skip
// into <Data>/backups/<table>/<id> and returns its id ("" when none is
// left). A local directory of the same backup (one that failed its local
// restore) is kept aside as .damaged-<id>-<unix time>; an off-site backup
// that does not download whole (an object missing or damaged) is passed
// over for the next older one.
func (c *Copies) FetchBackup(ctx context.Context, table string, skip []string) (string, error) {
	ids, err := c.Backups.List(ctx, table)
	if err != nil {
		return "", err
	}
	for _, id := range ids {
		if slices.Contains(skip, id) {
			continue
		}
		dir := filepath.Join(c.Data, "backups", table, id)
		if _, err := os.Stat(dir); err == nil {
			aside := filepath.Join(c.Data, "backups", table, fmt.Sprintf(".damaged-%s-%d", id, time.Now().Unix()))
			if err := os.Rename(dir, aside); err != nil {
				return "", fmt.Errorf("keep the local backup %s aside: %w", id, err)
			}
		}
		if _, err := c.Backups.Download(ctx, table, id, dir); err != nil {
			os.RemoveAll(dir)
			if ctx.Err() != nil {
				return "", err
			}
			continue
		}
		return id, nil
	}
	return "", nil
}
