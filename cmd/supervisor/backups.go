package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/offsite"
	"github.com/custodian-dev/custodian/internal/tables"
)

const backupsUsage = `Usage: supervisor backups [--data DIR] [--node N] [--nats URL] [--json] TABLE

Lists TABLE's backups, newest first: the local ones (the manifests under
<data>/backups/<table>/) and the off-site copies the node keeps in the
JetStream Object Store bucket CUSTODIAN_BACKUPS (objects under
<node>/<table>/, as "supervisor --offsite on" stores them). WHERE says
whether a backup is local, off-site or both. BYTES is the size of the
backup's database files; OFF-SITE is what a download of the off-site copy
fetches (files shared with other backups are stored in the bucket once).
POSITION is where in the table's change journal the backup stands (see
"supervisor journal").

  ID                                 CREATED               RECORDS  BYTES    POSITION       WHERE    OFF-SITE
  20261126T101500.120000000Z-3fa9c1  2026-11-26T10:15:00Z  1000     1.2 MiB  3000000000451  both     1.2 MiB
  20261126T041500.090000000Z-77b2e0  2026-11-26T04:15:00Z  990      1.2 MiB  3000000000390  offsite  1.2 MiB

--json prints a JSON line per backup instead:

  {"id":"...","created":"...","records":1000,"bytes":1258291,"position":3000000000451,"where":"both","offsite_bytes":1257001}

The off-site side needs NATS: --nats (or $NATS_URL) names the servers, and
without it the embedded server's address (nats://127.0.0.1:4222) is tried;
when none answers there, only the local backups are listed (a note on
stderr says so). It only reads: it neither creates the bucket nor changes
anything on disk, so it is safe while the supervisor runs. Exit status: 0
when everything was listed, 1 when something could not be read (a damaged
local manifest, --nats unreachable, the bucket unreadable; what could be
read is still printed), 2 on bad arguments.

Flags:
`

// backupLine is one backup in the listing of "supervisor backups".
type backupLine struct {
	ID           string    `json:"id"`
	Created      time.Time `json:"created"`
	Records      int64     `json:"records"`
	Bytes        int64     `json:"bytes"`
	Position     *uint64   `json:"position,omitempty"`
	Where        string    `json:"where"` // local, offsite or both
	OffsiteBytes int64     `json:"offsite_bytes,omitempty"`

	local, offsite bool
}

// Values of backupLine.Where.
const (
	whereLocal   = "local"
	whereOffsite = "offsite"
	whereBoth    = "both"
)

// runBackups is "supervisor backups".
func runBackups(args []string, stdout, stderr io.Writer) int {
	fset, conn := subcommandFlags("backups")
	host, _ := os.Hostname()
	var data, node string
	var asJSON bool
	var timeout time.Duration
	fset.StringVar(&data, "data", "./data", "the supervisor's data directory")
	fset.StringVar(&node, "node", events.NodeFromHost(host), "the node whose off-site backups to list (the supervisor's --node)")
	fset.BoolVar(&asJSON, "json", false, "print a JSON line per backup")
	fset.DurationVar(&timeout, "timeout", 30*time.Second, "how long to wait for NATS")
	pos, err := parseInterspersed(fset, args)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(fset, stdout, backupsUsage)
		return 0
	}
	if err == nil && len(pos) != 1 {
		err = fmt.Errorf("want one table name, got %d arguments", len(pos))
	}
	if err == nil && !events.ValidTable(pos[0]) {
		err = fmt.Errorf("invalid table name %q: want ^[a-z0-9][a-z0-9_-]{0,63}$", events.Echo(pos[0]))
	}
	if err == nil && !events.ValidNode(node) {
		err = fmt.Errorf("--node %q: must be one subject token", events.Echo(node))
	}
	if err == nil && timeout <= 0 {
		err = fmt.Errorf("--timeout %s: want a positive duration", timeout)
	}
	if err == nil {
		err = conn.Validate()
	}
	if err != nil {
		fmt.Fprintf(stderr, "supervisor backups: %v\n", err)
		return 2
	}
	table := pos[0]
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	code := 0
	fail := func(err error) {
		fmt.Fprintf(stderr, "supervisor backups: table %s: %v\n", table, err)
		code = 1
	}
	local, err := localBackups(data, table)
	if err != nil {
		fail(err)
	}
	remote, note, err := offsiteBackups(ctx, *conn, node, table)
	if err != nil {
		fail(err)
	}
	if note != "" {
		fmt.Fprintf(stderr, "supervisor backups: %s\n", note)
	}
	lines := mergeBackups(local, remote)
	if len(lines) == 0 && code == 0 {
		fmt.Fprintf(stderr, "supervisor backups: table %s: no backups (local under %s, off-site for node %s)\n", table, filepath.Join(data, "backups", table), node)
	}
	if err := printBackups(stdout, lines, asJSON); err != nil {
		fail(err)
	}
	return code
}

// localBackups reads the manifests under <data>/backups/<table>/. It reads
// them as they are (no tables.Store: opening one would clean the data
// directory up under a running supervisor). A backup directory whose
// manifest cannot be read is named in the error; the others are returned.
func localBackups(data, table string) ([]tables.Manifest, error) {
	dir := filepath.Join(data, "backups", table)
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ms []tables.Manifest
	var errs []error
	for _, e := range ents {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue // a backup being written is a dot directory
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "manifest.json"))
		var m tables.Manifest
		if err == nil {
			err = json.Unmarshal(b, &m)
		}
		if err == nil && (m.ID != e.Name() || m.Table != table) {
			err = fmt.Errorf("it names backup %q of table %q", m.ID, m.Table)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("local backup %s: manifest: %w", filepath.Join(dir, e.Name()), err))
			continue
		}
		ms = append(ms, m)
	}
	return ms, errors.Join(errs...)
}

// offsiteBackups lists table's backups in the bucket for node. With no
// --nats it tries the embedded server's address and, when nothing answers
// there, returns none with a note. A missing bucket is a note too.
func offsiteBackups(ctx context.Context, conn bus.ConnOptions, node, table string) ([]offsite.Listing, string, error) {
	given := conn.URL != ""
	if !given {
		conn.URL = "nats://" + bus.DefaultListen
	}
	conn.Name = "custodian-backups"
	wait := 10 * time.Second
	if !given {
		wait = 2 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, wait)
	nc, err := conn.Connect(cctx)
	cancel()
	if err != nil {
		if !given {
			return nil, fmt.Sprintf("off-site backups not listed: no NATS server at %s (give --nats)", conn.URL), nil
		}
		return nil, "", fmt.Errorf("off-site backups: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, "", fmt.Errorf("off-site backups: jetstream: %w", err)
	}
	bk, err := offsite.OpenBackups(ctx, js, node)
	if errors.Is(err, offsite.ErrNoBucket) {
		return nil, fmt.Sprintf("no off-site backups: the NATS system at %s has no bucket %s (no supervisor with --offsite on has used it)", conn.URL, offsite.BackupBucket), nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("off-site backups: %w", err)
	}
	ls, err := bk.Manifests(ctx, table)
	if err != nil {
		return ls, "", fmt.Errorf("off-site backups: %w", err)
	}
	return ls, "", nil
}

// mergeBackups joins the local and off-site backups by id, newest first;
// the local manifest's figures win for a backup that is in both places.
func mergeBackups(local []tables.Manifest, remote []offsite.Listing) []backupLine {
	byID := map[string]*backupLine{}
	for _, m := range local {
		byID[m.ID] = &backupLine{ID: m.ID, Created: m.Created, Records: m.Records, Bytes: m.Bytes, Position: m.Position, local: true}
	}
	for _, l := range remote {
		b, ok := byID[l.ID]
		if !ok {
			var m tables.Manifest
			_ = json.Unmarshal(l.Manifest, &m) // figures left zero when it does not decode
			b = &backupLine{ID: l.ID, Created: m.Created, Records: m.Records, Bytes: m.Bytes, Position: m.Position}
			byID[l.ID] = b
		}
		b.offsite = true
		b.OffsiteBytes = l.FileBytes
	}
	out := make([]backupLine, 0, len(byID))
	for _, b := range byID {
		switch {
		case b.local && b.offsite:
			b.Where = whereBoth
		case b.local:
			b.Where = whereLocal
		default:
			b.Where = whereOffsite
		}
		out = append(out, *b)
	}
	slices.SortFunc(out, func(a, b backupLine) int { return strings.Compare(b.ID, a.ID) })
	return out
}

// printBackups writes the listing as a table, or as JSON lines.
func printBackups(w io.Writer, lines []backupLine, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		for _, l := range lines {
			if err := enc.Encode(l); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCREATED\tRECORDS\tBYTES\tPOSITION\tWHERE\tOFF-SITE")
	for _, l := range lines {
		pos, off := "-", "-"
		if l.Position != nil {
			pos = strconv.FormatUint(*l.Position, 10)
		}
		if l.offsite {
			off = humanBytes(l.OffsiteBytes)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", l.ID, l.Created.UTC().Format(time.RFC3339), l.Records, humanBytes(l.Bytes), pos, l.Where, off)
	}
	return tw.Flush()
}

// humanBytes is n in B, KiB, MiB or GiB with one decimal.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n)/unit, 0
	for v >= unit && i < 3 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", v, []string{"KiB", "MiB", "GiB", "TiB"}[i])
}
