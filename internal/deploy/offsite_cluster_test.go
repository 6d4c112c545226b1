package deploy

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
	"github.com/custodian-dev/custodian/internal/offsite"
)

// offsiteRun is one supervisor of the off-site tests on a three-server
// cluster, with the arguments to start it again on the same --data.
type offsiteRun struct {
	bin, node, data string
	args            []string
}

func (r offsiteRun) start(t *testing.T, ctx context.Context, nc *nats.Conn, name string) *proc {
	t.Helper()
	p := startProc(t, name, r.bin, nil, append([]string{"--data", r.data, "--node", r.node}, r.args...)...)
	waitSupervisorAnswers(t, ctx, nc, p, r.node)
	return p
}

// backupWait runs a backup command with wait and returns its outcome event.
func backupWait(t *testing.T, ctx context.Context, nc *nats.Conn, table string) (events.Event, error) {
	t.Helper()
	var rep struct {
		Result string        `json:"result"`
		Event  *events.Event `json:"event"`
		Error  *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	rctx, c := context.WithTimeout(ctx, 60*time.Second)
	defer c()
	if err := request(rctx, nc, events.CmdSubject(events.DefaultPrefix, table, "backup"), map[string]any{"wait": true}, &rep); err != nil {
		return events.Event{}, err
	}
	if rep.Error != nil || rep.Event == nil {
		return events.Event{}, fmt.Errorf("backup %s: %+v", table, rep.Error)
	}
	return *rep.Event, nil
}

// TestClusterOffsiteRebuildAfterDiskLoss: a supervisor on a three-server
// JetStream cluster (R3 stream and bucket), a table with four writers, a
// backup in the middle of the writes; the supervisor is SIGKILLed, its
// whole data directory deleted and it is started again on the empty
// directory with the same --node. The table comes back from the bucket
// and the journal stream: every write acknowledged more than 1 s before
// the kill is there (key by key, read through NATS); writes of the last
// second may be missing, and only those, and only after the restore's
// recovered_to; restore.completed says data.source offsite and lost.
func TestClusterOffsiteRebuildAfterDiskLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster and the supervisor twice")
	}
	supBin := buildBinary(t, "./cmd/supervisor")
	c := natstest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nc, js := connectJS(t, c.URLs, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	const table = "orders"
	run := offsiteRun{bin: supBin, node: "od1", data: filepath.Join(t.TempDir(), "od1"),
		args: []string{"--nats", c.URLs, "--tables", table, "--dashboard", "off", "--replicas", "3"}}
	sup := run.start(t, ctx, nc, "supervisor od1")
	checkReplicas(t, ctx, js)

	w := startWriters(ctx, nc, table, 4, 200)
	w.writeFor(t, 1500*time.Millisecond, "writes before the backup")
	bk, err := backupWait(t, ctx, nc, table)
	if err != nil {
		t.Fatal(err)
	}
	if bk.Type != events.BackupCompleted || bk.Data["offsite_bytes"] == nil {
		t.Fatalf("backup: %s %v, want backup.completed with offsite_bytes", bk.Type, bk.Data)
	}
	t.Logf("backup %v: offsite_bytes %v", bk.Data["backup_id"], bk.Data["offsite_bytes"])
	w.writeFor(t, 3*time.Second, "writes after the backup")

	kill := killSupervisor(t, sup)
	acks := w.stop()
	t.Logf("supervisor SIGKILLed after %d acknowledged writes; writer errors: %v", len(acks), w.errs)
	wipe(t, run.data)

	restart := time.Now()
	run.start(t, ctx, nc, "supervisor od1 (empty data)")
	ev := startupRestore(t, ctx, js, run.node, table, restart)
	rt := checkStartupRestore(t, ev)
	waitServes(t, ctx, nc, table, acks[0].key)
	checkRebuilt(t, ctx, nc, table, acks, kill, rt)
}

// TestClusterOffsiteRebuildAfterBucketLeaderLoss: as
// TestClusterOffsiteRebuildAfterDiskLoss, with the server that leads the
// bucket's stream (OBJ_CUSTODIAN_BACKUPS) shut down while the backup
// uploads, and started again afterwards (the in-process nats-server of
// the harness is stopped by Shutdown: its clients and routes are cut at
// once, as a crash does, though its store is flushed). The rebuilt node
// still has every write acknowledged more than 1 s before the
// supervisor's kill.
func TestClusterOffsiteRebuildAfterBucketLeaderLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster and the supervisor twice, restarts a server")
	}
	supBin := buildBinary(t, "./cmd/supervisor")
	c := natstest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	nc, js := connectJS(t, c.URLs, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	const table = "ledger"
	run := offsiteRun{bin: supBin, node: "od2", data: filepath.Join(t.TempDir(), "od2"),
		args: []string{"--nats", c.URLs, "--tables", table, "--dashboard", "off", "--replicas", "3"}}
	sup := run.start(t, ctx, nc, "supervisor od2")
	checkReplicas(t, ctx, js)

	// Values of ~4 KiB: the backup has megabytes to upload, so that the
	// leader goes away while it does.
	w := startWriters(ctx, nc, table, 4, 4000)
	w.writeFor(t, 1500*time.Millisecond, "writes before the backup")

	obj, err := js.Stream(ctx, "OBJ_"+offsite.BackupBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := obj.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leader, before := info.Cluster.Leader, info.State.Msgs
	victim := serverNamed(t, c, leader)

	var bk events.Event
	var bkErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		bk, bkErr = backupWait(t, ctx, nc, table)
	}()
	// The upload has begun when the bucket's stream holds new chunks.
	waitFor(t, 30*time.Second, "the backup's upload begins", func() (bool, string) {
		ictx, c := context.WithTimeout(ctx, time.Second)
		defer c()
		i, err := obj.Info(ictx)
		if err != nil {
			return false, err.Error()
		}
		return i.State.Msgs > before, fmt.Sprintf("%d messages", i.State.Msgs)
	})
	c.Stop(victim)
	t.Logf("bucket stream leader %s shut down during the upload", leader)
	wg.Wait()
	if bkErr != nil {
		t.Fatalf("backup: %v", bkErr)
	}
	t.Logf("backup outcome: %s %v", bk.Type, bk.Data)
	c.Start(victim)
	waitFor(t, 60*time.Second, "the bucket's stream has a leader and "+leader+" back", func() (bool, string) {
		ictx, c := context.WithTimeout(ctx, 2*time.Second)
		defer c()
		i, err := obj.Info(ictx)
		if err != nil {
			return false, err.Error()
		}
		cur := 0
		for _, r := range i.Cluster.Replicas {
			if r.Current {
				cur++
			}
		}
		return i.Cluster.Leader != "" && cur == 2, fmt.Sprintf("leader %q, %d replicas current", i.Cluster.Leader, cur)
	})
	w.writeFor(t, 3*time.Second, "writes after the backup")

	kill := killSupervisor(t, sup)
	acks := w.stop()
	t.Logf("supervisor SIGKILLed after %d acknowledged writes; writer errors: %v", len(acks), w.errs)
	wipe(t, run.data)

	restart := time.Now()
	run.start(t, ctx, nc, "supervisor od2 (empty data)")
	ev := startupRestore(t, ctx, js, run.node, table, restart)
	rt := checkStartupRestore(t, ev)
	waitServes(t, ctx, nc, table, acks[0].key)
	checkRebuilt(t, ctx, nc, table, acks, kill, rt)
}

// waitServes waits until table answers a get of key (it serves again).
func waitServes(t *testing.T, ctx context.Context, nc *nats.Conn, table, key string) {
	t.Helper()
	waitFor(t, 60*time.Second, table+" serves", func() (bool, string) {
		rctx, c := context.WithTimeout(ctx, 2*time.Second)
		defer c()
		_, found, err := getKey(rctx, nc, table, key)
		return err == nil && found, fmt.Sprintf("found %v, %v", found, err)
	})
}
