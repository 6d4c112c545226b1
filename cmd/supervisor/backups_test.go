package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/natstest"
	"github.com/custodian-dev/custodian/internal/offsite"
	"github.com/custodian-dev/custodian/internal/tables"
)

// backupsRun runs "supervisor backups" and returns its exit code, stdout
// and stderr.
func backupsRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := realMain(append([]string{"backups"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// backupsJSON decodes the JSON lines of "supervisor backups --json".
func backupsJSON(t *testing.T, out string) []backupLine {
	t.Helper()
	var ls []backupLine
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var b backupLine
		if err := json.Unmarshal([]byte(l), &b); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		ls = append(ls, b)
	}
	return ls
}

// threeBackups makes three real backups of users under root, writing
// between them, and returns their manifests, oldest first.
func threeBackups(t *testing.T, root string) (*tables.Store, []tables.Manifest) {
	t.Helper()
	ctx := context.Background()
	s, tb := openUsers(t, root)
	t.Cleanup(func() { _ = s.Close() })
	var ms []tables.Manifest
	for i := range 3 {
		for k := range 50 {
			if err := tb.Put(ctx, fmt.Sprintf("k%d-%03d", i, k), json.RawMessage(fmt.Sprintf(`{"i":%d,"pad":"%0500d"}`, i, k))); err != nil {
				t.Fatal(err)
			}
		}
		m, err := tb.Backup(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
		time.Sleep(2 * time.Millisecond) // distinct ids
	}
	return s, ms
}

// TestBackupsListsLocalAndOffsite: three real backups of users; the two
// older ones copied to the bucket of a real nats-server (as the supervisor
// does with --offsite on), then the oldest removed from the disk. The
// listing says off-site, both and local, newest first, with each one's
// figures from its manifest; another node's copies are not listed, and
// the other node sees only its own.
func TestBackupsListsLocalAndOffsite(t *testing.T) {
	t.Setenv("NATS_URL", "")
	ctx := context.Background()
	root := t.TempDir()
	s, ms := threeBackups(t, root)
	srv := natstest.Start(t)
	js, err := jetstream.New(srv.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	bk, err := offsite.NewBackups(ctx, js, offsite.Config{Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := offsite.NewBackups(ctx, js, offsite.Config{Node: "n2"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms[:2] {
		dir, _ := s.BackupDir("users", m.ID)
		if _, err := bk.Upload(ctx, "users", m.ID, dir); err != nil {
			t.Fatal(err)
		}
	}
	dir, _ := s.BackupDir("users", ms[2].ID)
	if _, err := other.Upload(ctx, "users", ms[2].ID+"x", dir); err != nil {
		t.Fatal(err)
	}
	oldest, _ := s.BackupDir("users", ms[0].ID)
	if err := os.RemoveAll(oldest); err != nil {
		t.Fatal(err)
	}

	code, out, errs := backupsRun("--data", root, "--nats", srv.URL(), "--node", "n1", "--json", "users")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	got := backupsJSON(t, out)
	want := []struct {
		m     tables.Manifest
		where string
	}{{ms[2], whereLocal}, {ms[1], whereBoth}, {ms[0], whereOffsite}}
	if len(got) != len(want) {
		t.Fatalf("%d backups listed, want 3:\n%s", len(got), out)
	}
	for i, w := range want {
		g := got[i]
		if g.ID != w.m.ID || g.Where != w.where || g.Records != w.m.Records || g.Bytes != w.m.Bytes || !g.Created.Equal(w.m.Created) ||
			g.Position == nil || *g.Position != *w.m.Position {
			t.Errorf("line %d: %+v, want %s %s (records %d, bytes %d, position %d)", i, g, w.m.ID, w.where, w.m.Records, w.m.Bytes, *w.m.Position)
		}
		if (w.where == whereLocal) != (g.OffsiteBytes == 0) {
			t.Errorf("line %d (%s): offsite_bytes %d", i, w.where, g.OffsiteBytes)
		}
	}
	if got[0].Records != 150 || got[2].Records != 50 {
		t.Errorf("records %d and %d, want 150 and 50", got[0].Records, got[2].Records)
	}

	// The human table: a header, a row per backup, where it is.
	code, out, _ = backupsRun("--data", root, "--nats", srv.URL(), "--node", "n1", "users")
	rows := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(rows) != 4 || !strings.HasPrefix(rows[0], "ID") || !strings.Contains(rows[0], "WHERE") {
		t.Fatalf("exit %d, table:\n%s", code, out)
	}
	for i, w := range want {
		f := strings.Fields(rows[i+1])
		if f[0] != w.m.ID || !strings.Contains(rows[i+1], " "+w.where+" ") || !strings.Contains(rows[i+1], fmt.Sprint(*w.m.Position)) {
			t.Errorf("row %d %q, want %s %s", i+1, rows[i+1], w.m.ID, w.where)
		}
	}

	// Node n2 has no local data here: its one off-site copy.
	code, out, _ = backupsRun("--data", t.TempDir(), "--nats", srv.URL(), "--node", "n2", "--json", "users")
	if got := backupsJSON(t, out); code != 0 || len(got) != 1 || got[0].ID != ms[2].ID+"x" || got[0].Where != whereOffsite || got[0].Records != 150 {
		t.Fatalf("node n2: exit %d\n%s", code, out)
	}
}

// TestBackupsWithoutTheBucketOrNATS: a NATS server without the bucket
// lists the local backups with a note (exit 0) and does not create the
// bucket; --nats that does not answer lists them too but exits 1; a
// damaged local manifest is named and the others listed (exit 1); bad
// arguments exit 2.
func TestBackupsWithoutTheBucketOrNATS(t *testing.T) {
	t.Setenv("NATS_URL", "")
	root := t.TempDir()
	_, ms := threeBackups(t, root)
	srv := natstest.Start(t)

	code, out, errs := backupsRun("--data", root, "--nats", srv.URL(), "--node", "n1", "--json", "users")
	if got := backupsJSON(t, out); code != 0 || len(got) != 3 || got[0].Where != whereLocal || !strings.Contains(errs, "no bucket CUSTODIAN_BACKUPS") {
		t.Fatalf("no bucket: exit %d, stderr %q\n%s", code, errs, out)
	}
	js, err := jetstream.New(srv.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.ObjectStore(context.Background(), offsite.BackupBucket); err == nil {
		t.Fatal("listing created the bucket")
	}

	dead := fmt.Sprintf("nats://127.0.0.1:%d", natstest.FreePorts(t, 1)[0])
	code, out, errs = backupsRun("--data", root, "--nats", dead, "--timeout", "5s", "--json", "users")
	if got := backupsJSON(t, out); code != 1 || len(got) != 3 || !strings.Contains(errs, "off-site backups") {
		t.Fatalf("--nats unreachable: exit %d, stderr %q\n%s", code, errs, out)
	}

	// Without --nats: the embedded server's address is tried; when nothing
	// listens there the local backups are listed with a note.
	if c, err := net.DialTimeout("tcp", bus.DefaultListen, time.Second); err == nil {
		_ = c.Close()
		t.Log("something listens on " + bus.DefaultListen + ": the no-NATS case is not checked")
	} else {
		code, out, errs = backupsRun("--data", root, "--json", "users")
		if got := backupsJSON(t, out); code != 0 || len(got) != 3 || !strings.Contains(errs, "not listed") {
			t.Fatalf("no NATS: exit %d, stderr %q\n%s", code, errs, out)
		}
	}

	bad := filepath.Join(root, "backups", "users", ms[1].ID, "manifest.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = backupsRun("--data", root, "--nats", srv.URL(), "--json", "users")
	if got := backupsJSON(t, out); code != 1 || len(got) != 2 || got[0].ID != ms[2].ID || got[1].ID != ms[0].ID || !strings.Contains(errs, ms[1].ID) {
		t.Fatalf("damaged manifest: exit %d, stderr %q\n%s", code, errs, out)
	}

	for _, args := range [][]string{{}, {"users", "orders"}, {"Users"}, {"--node", "a.b", "users"}, {"--bogus", "users"}, {"--timeout", "0s", "users"}} {
		if code, _, errs := backupsRun(args...); code != 2 || errs == "" {
			t.Errorf("%q: exit %d, stderr %q, want 2", args, code, errs)
		}
	}
	if code, out, _ := backupsRun("--help"); code != 0 || !strings.Contains(out, "CUSTODIAN_BACKUPS") {
		t.Errorf("--help: exit %d\n%s", code, out)
	}
}
