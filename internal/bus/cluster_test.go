package bus

import (
	"strings"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/natstest"
)

// TestEnsureStreamOnAFormingCluster creates the R3 stream right after three
// clustered servers report ready: JetStream's meta group is usually not
// elected yet (error 10008, or no responders), and EnsureStream must retry
// until it is.
func TestEnsureStreamOnAFormingCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("three servers")
	}
	servers := natstest.StartCluster(t, 3).Servers
	js := newJS(t, connectTCP(t, servers[0].ClientURL()))
	ctx := withTimeout(t, 60*time.Second)
	// One plain attempt first, to show what EnsureStream has to get past.
	cfg, _ := StreamConfig{Replicas: 3}.JetStreamConfig()
	cfg.Name = "PROBE"
	cfg.Subjects = []string{"probe.>"}
	if _, err := js.CreateStream(withTimeout(t, 2*time.Second), cfg); err != nil {
		t.Logf("a single attempt right after start: %v", err)
	}
	st, err := EnsureStream(ctx, js, StreamConfig{Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream not replicated: %+v %+v", info.Config, info.Cluster)
	}
}

// On a cluster too small for the replicas, "no suitable peers" lasts:
// EnsureStream gives up when its context ends and says why.
func TestEnsureStreamOnAClusterTooSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("two servers")
	}
	servers := natstest.StartCluster(t, 2).Servers
	js := newJS(t, connectTCP(t, servers[0].ClientURL()))
	ctx := withTimeout(t, 60*time.Second)
	for { // until the meta group has a leader
		if _, err := js.AccountInfo(withTimeout(t, time.Second)); err == nil {
			break
		} else if ctx.Err() != nil {
			t.Fatalf("JetStream never ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, err := EnsureStream(withTimeout(t, 10*time.Second), js, StreamConfig{Replicas: 3})
	if err == nil || !strings.Contains(err.Error(), "no suitable peers") {
		t.Fatalf("R3 on two servers: %v, want the placement error", err)
	}
}
