package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/offsite"
	"github.com/custodian-dev/custodian/internal/supervisor"
)

// shipEvery is how often the journal shipper looks for new records: the
// off-site copy of a write is at most about this far behind.
const shipEvery = 250 * time.Millisecond

// offsiteOn reports whether off-site copies run: --offsite on or off, and
// by default on when connected to a NATS server (--nats), off with the
// embedded one (whose store is on the same disk).
func (s settings) offsiteOn() bool {
	switch s.Offsite {
	case "on":
		return true
	case "off":
		return false
	}
	return s.Conn.URL != ""
}

// offsiteCopies is the supervisor's supervisor.Offsite: the node's journal
// shipper and backup bucket.
type offsiteCopies struct {
	ship    *offsite.Shipper
	backups *offsite.Backups
	rebuilt map[string]bool
}

func (o *offsiteCopies) UploadBackup(ctx context.Context, table, id, dir string) (int64, int64, error) {
	up, err := o.backups.Upload(ctx, table, id, dir)
	return up.StoredBytes, up.ReusedBytes, err
}

func (o *offsiteCopies) JournalLag(table string) (time.Duration, error) {
	st, ok := o.ship.Status(table)
	if !ok {
		return 0, nil
	}
	return st.Lag, st.Err
}

// startOffsite ensures the stream and the bucket, then fetches from them
// every table of the node that has nothing on disk (a node started on an
// empty data directory, or a table whose directories were lost): its
// newest whole off-site backup and its journal, for the restore at start.
// It returns the tables to open.
func startOffsite(ctx context.Context, js jetstream.JetStream, s settings, log *slog.Logger) (*offsiteCopies, []string, error) {
	cfg := offsite.Config{Prefix: s.Prefix, Node: s.Node, Replicas: s.Stream.Replicas}
	sh, err := offsite.NewShipper(ctx, js, cfg)
	if err != nil {
		return nil, nil, err
	}
	bk, err := offsite.NewBackups(ctx, js, cfg)
	if err != nil {
		return nil, nil, err
	}
	o := &offsiteCopies{ship: sh, backups: bk, rebuilt: map[string]bool{}}
	names, err := bk.Tables(ctx)
	if err != nil {
		return nil, nil, err
	}
	var open []string
	for _, name := range names {
		empty, err := nothingOnDisk(s.Data, name)
		if err != nil {
			return nil, nil, err
		}
		if !empty {
			continue
		}
		t0 := time.Now()
		res, err := offsite.Rebuild(ctx, js, bk, cfg, s.Data, name)
		if err != nil {
			return nil, nil, fmt.Errorf("table %s: rebuild from off-site: %w", name, err)
		}
		log.Warn("table fetched from off-site: it is restored now", "table", name, "backup_id", res.BackupID,
			"backup_bytes", res.BackupBytes, "journal_records", res.JournalRecords, "skipped", res.Skipped,
			"took", time.Since(t0).Round(time.Millisecond))
		o.rebuilt[name] = true
		open = append(open, name)
	}
	slices.Sort(open)
	return o, open, nil
}

// nothingOnDisk reports whether table has no live, backup, quarantine or
// journal directory under data.
func nothingOnDisk(data, table string) (bool, error) {
	for _, d := range []string{"tables", "backups", "quarantine", "journal"} {
		_, err := os.Stat(filepath.Join(data, d, table))
		switch {
		case err == nil:
			return false, nil
		case !errors.Is(err, fs.ErrNotExist):
			return false, err
		}
	}
	return true, nil
}

// track ships every table the supervisor owns, now and when it adds one.
func (o *offsiteCopies) track(sup *supervisor.Supervisor) {
	add := func(name string) {
		if t, err := sup.Table(name); err == nil {
			o.ship.Track(name, t)
		}
	}
	sup.OnTableAdded(add)
	for _, name := range sup.Tables() {
		add(name)
	}
}
