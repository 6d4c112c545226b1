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

// offsiteCopies are the node's off-site copies (offsite.Copies, the
// supervisor's supervisor.Offsite) and the tables fetched at start.
type offsiteCopies struct {
	*offsite.Copies
	rebuilt map[string][]string
}

// startOffsite ensures the stream and the bucket, then fetches from them
// every table of the node that has nothing on disk (a node started on an
// empty data directory, or a table whose directories were lost): its
// newest whole off-site backup and its journal, for the restore at start.
// It returns the tables to open.
func startOffsite(ctx context.Context, js jetstream.JetStream, s settings, log *slog.Logger) (*offsiteCopies, []string, error) {
	cfg := offsite.Config{Prefix: s.Prefix, Node: s.Node, Replicas: s.Stream.Replicas,
		MaxAge: s.OffsiteLimits.JournalMaxAge, MaxBytes: s.OffsiteLimits.JournalMaxBytes}
	sh, err := offsite.NewShipper(ctx, js, cfg)
	if err != nil {
		return nil, nil, err
	}
	bk, err := offsite.NewBackups(ctx, js, cfg)
	if err != nil {
		return nil, nil, err
	}
	o := &offsiteCopies{Copies: &offsite.Copies{Ship: sh, Backups: bk, Data: s.Data}, rebuilt: map[string][]string{}}
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
		// A journal archive left without its table (the table's own
		// directories lost): kept aside, the off-site journal replaces it.
		arch := filepath.Join(s.Data, "journal", name)
		if _, err := os.Stat(arch); err == nil {
			aside := filepath.Join(s.Data, "journal", fmt.Sprintf(".replaced-%s-%d", name, time.Now().Unix()))
			if err := os.Rename(arch, aside); err != nil {
				return nil, nil, fmt.Errorf("table %s: keep its local journal aside: %w", name, err)
			}
			log.Warn("a journal without its table was kept aside for the off-site one", "table", name, "kept", aside)
		}
		t0 := time.Now()
		res, err := offsite.Rebuild(ctx, js, bk, cfg, s.Data, name)
		if err != nil {
			return nil, nil, fmt.Errorf("table %s: rebuild from off-site: %w", name, err)
		}
		log.Warn("table fetched from off-site: it is restored now", "table", name, "backup_id", res.BackupID,
			"backup_bytes", res.BackupBytes, "journal_records", res.JournalRecords, "skipped", res.Skipped,
			"took", time.Since(t0).Round(time.Millisecond))
		o.rebuilt[name] = append([]string{}, res.Skipped...)
		open = append(open, name)
	}
	slices.Sort(open)
	return o, open, nil
}

// nothingOnDisk reports whether table has neither a live nor a backup nor
// a quarantine directory under data (its journal alone cannot restore it).
func nothingOnDisk(data, table string) (bool, error) {
	for _, d := range []string{"tables", "backups", "quarantine"} {
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
			o.Ship.Track(name, t)
		}
	}
	sup.OnTableAdded(add)
	for _, name := range sup.Tables() {
		add(name)
	}
}

// syncEvery is how often the bucket is brought in line with the local
// backups (copies that failed, backups pruned locally); syncRetry how soon
// after a failed copy or sync it is tried again.
const (
	syncEvery = 30 * time.Second
	syncRetry = 2 * time.Second
)

// syncBackups runs Sync for every table of the node until ctx is done:
// every syncEvery, and every syncRetry while a copy or a sync has failed,
// so that a backup whose copy failed (NATS down) is copied within seconds
// of NATS being back; backups pruned locally are removed off-site.
func (o *offsiteCopies) syncBackups(ctx context.Context, sup *supervisor.Supervisor, log *slog.Logger) {
	t := time.NewTicker(syncRetry)
	defer t.Stop()
	var last time.Time
	for {
		if o.TakeBehind() || time.Since(last) >= syncEvery {
			last = time.Now()
			for _, name := range sup.Tables() {
				if err := o.syncTable(ctx, sup, name, log); err != nil && ctx.Err() == nil {
					o.MarkBehind()
					log.Warn("offsite: backups not in line with the bucket; tried again in "+syncRetry.String(), "table", name, "error", err)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (o *offsiteCopies) syncTable(ctx context.Context, sup *supervisor.Supervisor, name string, log *slog.Logger) error {
	ms, err := sup.Store().Backups(name)
	if err != nil {
		return err
	}
	local := map[string]string{}
	for _, m := range ms {
		dir, err := sup.Store().BackupDir(name, m.ID)
		if err != nil {
			return err
		}
		local[m.ID] = dir
	}
	res, err := o.Backups.Sync(ctx, name, local, sup.Policy(name).Retention)
	if len(res.Uploaded) > 0 || len(res.Pruned) > 0 {
		log.Info("offsite: backups brought in line", "table", name, "uploaded", res.Uploaded, "pruned", res.Pruned, "files_removed", res.Files)
	}
	return err
}
