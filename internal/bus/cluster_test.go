package bus

import (
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
