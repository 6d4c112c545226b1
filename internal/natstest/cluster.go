package natstest

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// FreePorts returns n distinct TCP ports on loopback that were free a
// moment ago (all n are held open together while they are picked, so none
// is handed out twice).
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// Cluster is n nats-servers with JetStream, clustered over TCP routes on
// loopback, named s1..sn, each with its own store; a server can be stopped
// and started again with the same ports and store. The test's cleanup shuts
// them all down.
type Cluster struct {
	t       testing.TB
	opts    []*server.Options
	Servers []*server.Server
	URLs    string // client URLs of every server, comma-separated
}

// StartCluster starts n clustered servers and waits until each accepts
// connections; their JetStream meta group may not be elected yet.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	ports := FreePorts(t, 2*n)
	client, routePorts := ports[:n], ports[n:]
	c := &Cluster{t: t, Servers: make([]*server.Server, n)}
	urls := make([]string, 0, n)
	for _, p := range client {
		urls = append(urls, loopbackURL(p))
	}
	c.URLs = strings.Join(urls, ",")
	for i := range n {
		var routes []string
		for j, p := range routePorts {
			if j != i {
				routes = append(routes, loopbackURL(p))
			}
		}
		c.opts = append(c.opts, &server.Options{
			ServerName: fmt.Sprintf("s%d", i+1),
			Host:       "127.0.0.1",
			Port:       client[i],
			JetStream:  true,
			StoreDir:   t.TempDir(),
			Cluster:    server.ClusterOpts{Name: "custodian-test", Host: "127.0.0.1", Port: routePorts[i]},
			Routes:     server.RoutesFromStr(strings.Join(routes, ",")),
			NoLog:      true,
			NoSigs:     true,
		})
	}
	for i := range c.opts {
		c.Start(i)
	}
	for _, s := range c.Servers {
		if !s.ReadyForConnections(20 * time.Second) {
			t.Fatalf("cluster server %s not ready", s.Name())
		}
	}
	return c
}

// Start starts server i (again) with its options; it does not wait.
func (c *Cluster) Start(i int) {
	c.t.Helper()
	s, err := server.NewServer(c.opts[i].Clone())
	if err != nil {
		c.t.Fatalf("cluster server %d: %v", i, err)
	}
	go s.Start()
	c.Servers[i] = s
	c.t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
}

// Stop shuts server i down and waits until it has stopped.
func (c *Cluster) Stop(i int) {
	c.Servers[i].Shutdown()
	c.Servers[i].WaitForShutdown()
}

// URL is the client URL of server i.
func (c *Cluster) URL(i int) string { return loopbackURL(c.opts[i].Port) }

func loopbackURL(port int) string { return fmt.Sprintf("nats://127.0.0.1:%d", port) }
