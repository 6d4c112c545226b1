package bus

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	natstest "github.com/nats-io/nats-server/v2/test"
)

// TestEnsureStreamOnAFormingCluster creates the R3 stream right after three
// clustered servers report ready: JetStream's meta group is usually not
// elected yet (error 10008, or no responders), and EnsureStream must retry
// until it is.
func TestEnsureStreamOnAFormingCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("three servers")
	}
	servers := startCluster(t, 3)
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

// startCluster runs n JetStream servers clustered over TCP routes on
// loopback (each with its own store), stopped when t ends. Their meta group
// may not be elected yet when it returns.
func startCluster(t testing.TB, n int) []*server.Server {
	t.Helper()
	ports := make([]int, n)
	var routes []*url.URL
	for i := range ports {
		ports[i] = freePort(t)
		u, _ := url.Parse(fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
		routes = append(routes, u)
	}
	var servers []*server.Server
	for i := range n {
		opts := natstest.DefaultTestOptions
		opts.Port = -1
		opts.ServerName = fmt.Sprintf("s%d", i)
		opts.JetStream = true
		opts.StoreDir = t.TempDir()
		opts.Cluster.Name = "custodian-test"
		opts.Cluster.Host = "127.0.0.1"
		opts.Cluster.Port = ports[i]
		opts.Routes = routes
		s := natstest.RunServer(&opts)
		servers = append(servers, s)
		t.Cleanup(func() {
			s.Shutdown()
			s.WaitForShutdown()
		})
	}
	return servers
}
