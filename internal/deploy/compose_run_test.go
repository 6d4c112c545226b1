package deploy

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
	"github.com/custodian-dev/custodian/internal/offsite"
)

const secureOverride = "deploy/compose.secure.yaml"

// composePasswords are the variables deploy/compose.secure.yaml requires.
func composePasswords() []string {
	var env []string
	for _, r := range confRoles {
		env = append(env, rolePasswordVar(r)+"="+rolePassword(r))
	}
	return env
}

func TestComposeSecureOverrideNeedsThePasswords(t *testing.T) {
	_, err := composeProject(repoRoot(t), []string{}, "compose.yaml", secureOverride)
	if err == nil || !strings.Contains(err.Error(), "PASSWORD") {
		t.Fatalf("loading the secure override without passwords: %v, want an error naming the missing password", err)
	}
}

// TestComposeSecureOverrideRunsWithoutDocker runs compose.yaml plus
// deploy/compose.secure.yaml without Docker: the nats service's server from
// its own command line and mounted config, each Custodian service's binary
// with its command line (container addresses swapped for loopback ones),
// and then each service's health check command, which must pass.
func TestComposeSecureOverrideRunsWithoutDocker(t *testing.T) {
	runComposeWithoutDocker(t, composePasswords(), "compose.yaml", secureOverride)
}

// TestComposeRunsWithoutDocker does the same for compose.yaml alone.
func TestComposeRunsWithoutDocker(t *testing.T) {
	runComposeWithoutDocker(t, nil, "compose.yaml")
}

// TestComposeClusterRunsWithoutDocker runs deploy/compose.cluster.yaml:
// three nats-servers clustered over routes, two supervisors with
// --replicas=3, the dashboard and the notifier.
func TestComposeClusterRunsWithoutDocker(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a three-server cluster")
	}
	url := runComposeWithoutDocker(t, nil, "deploy/compose.cluster.yaml")
	_, js := connectJS(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info := st.CachedInfo()
	if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
		t.Errorf("stream %s: %d replicas configured, cluster %+v; want 3 (a leader and two replicas)", events.StreamName, info.Config.Replicas, info.Cluster)
	}
	// The supervisors run the off-site mode (the default with --nats): the
	// journal stream and the backup bucket's stream, three replicas each.
	for _, name := range []string{offsite.JournalStream, "OBJ_" + offsite.BackupBucket} {
		st, err := js.Stream(ctx, name)
		if err != nil {
			t.Errorf("off-site stream %s: %v (do the supervisors run --offsite on?)", name, err)
			continue
		}
		if r := st.CachedInfo().Config.Replicas; r != 3 {
			t.Errorf("off-site stream %s: %d replicas, want 3 (--replicas)", name, r)
		}
	}
}

func TestComposeClusterFileLinesUp(t *testing.T) {
	p := loadComposeFiles(t, nil, "deploy/compose.cluster.yaml")
	checkServicesFlags(t, p)
	checkVolumes(t, p)
	if n := len(natsServers(p)); n != 3 {
		t.Errorf("%d nats services, want 3", n)
	}
	nodes := map[string]bool{}
	for name, bin := range custodianServices(p) {
		if bin != "supervisor" {
			continue
		}
		svc := p.Services[name]
		args := parseArgs(svc.Command, knownOrAny(map[string]bool{"demo": true}, svc.Command))
		if r, _ := args.last("replicas"); r != "3" {
			t.Errorf("%s: --replicas %q, want 3 on a three-server cluster", name, r)
		}
		// Off-site copies are on by default with --nats: the example must
		// not turn them off.
		if u, _ := args.last("nats"); u == "" {
			t.Errorf("%s: no --nats: the off-site copies would be off", name)
		}
		if o, given := args.last("offsite"); given && o != "on" {
			t.Errorf("%s: --offsite %q, want the off-site copies on in the cluster example", name, o)
		}
		node, _ := args.last("node")
		if nodes[node] {
			t.Errorf("two supervisors with --node %s", node)
		}
		nodes[node] = true
	}
	for name, svc := range p.Services {
		for _, pc := range svc.Ports {
			if !listenPorts(t, name, svc)[pc.Target] || pc.HostIP != "127.0.0.1" || pc.Published != strconv.Itoa(int(pc.Target)) {
				t.Errorf("%s: published port %+v does not line up", name, pc)
			}
		}
	}
}

// runComposeWithoutDocker loads compose files and runs the project without
// containers: every nats service is a real nats-server started from its own
// command line (its mounted config file read from the host, service names
// and ports swapped for loopback ones), every Custodian service is its
// binary run with its command line, and every Custodian service's health
// check command must then pass.
func runComposeWithoutDocker(t *testing.T, env []string, files ...string) (natsURL string) {
	hook := newWebhookSink(t)
	p := loadComposeFiles(t, append(env, "CUSTODIAN_WEBHOOK_URL="+hook.srv.URL), files...)
	checkServicesFlags(t, p)
	if t.Failed() {
		t.FailNow()
	}
	servers := natsServers(p)
	ports := natstest.FreePorts(t, 2*len(servers)+1)
	clientPorts, routePorts, dashPort := ports[:len(servers)], ports[len(servers):2*len(servers)], ports[2*len(servers)]
	var pairs []string
	for i, n := range servers {
		pairs = append(pairs, n+":4222", addr(clientPorts[i]), n+":6222", addr(routePorts[i]))
	}
	pairs = append(pairs, "0.0.0.0:8080", addr(dashPort), "127.0.0.1:8080", addr(dashPort))
	local := strings.NewReplacer(pairs...)
	localize := func(in []string, extra ...string) []string {
		r := local
		if len(extra) > 0 {
			r = strings.NewReplacer(append(extra, pairs...)...)
		}
		out := make([]string, len(in))
		for i, a := range in {
			out[i] = r.Replace(a)
		}
		return out
	}

	// The nats services, from their own command lines.
	for i, name := range servers {
		svc := p.Services[name]
		args := localize(svc.Command, "0.0.0.0:6222", addr(routePorts[i]))
		for j, a := range args {
			for _, v := range svc.Volumes {
				if v.Type == types.VolumeTypeBind && a == v.Target {
					args[j] = v.Source
				}
			}
		}
		for k, v := range svc.Environment {
			if v != nil {
				t.Setenv(k, *v)
			}
		}
		withLocal := svc
		withLocal.Command = args
		opts := natsOptions(t, withLocal)
		if opts.Port == 0 {
			opts.Port = server.DEFAULT_PORT
		}
		if !opts.JetStream || !inVolume(svc, opts.StoreDir) {
			t.Fatalf("%s with %q: JetStream %v, store %q outside its volumes", name, args, opts.JetStream, opts.StoreDir)
		}
		if opts.HTTPPort != 8222 || opts.Port != 4222 {
			t.Errorf("%s with %q: client port %d, monitoring port %d; the health checks and ports assume 4222 and 8222", name, args, opts.Port, opts.HTTPPort)
		}
		opts.Host, opts.Port = "127.0.0.1", clientPorts[i]
		opts.HTTPHost, opts.HTTPPort = "", 0
		opts.StoreDir = t.TempDir()
		opts.NoLog, opts.NoSigs = true, true
		s, err := server.NewServer(opts)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		go s.Start()
		t.Cleanup(func() {
			s.Shutdown()
			s.WaitForShutdown()
		})
	}

	// The Custodian services, each with its own data directory.
	services := custodianServices(p)
	names := slices.Sorted(maps.Keys(services))
	for _, name := range names {
		svc := p.Services[name]
		bin := buildBinary(t, "./cmd/"+services[name])
		startProc(t, name, bin, nil, localize(svc.Command, "--data=/data", "--data="+filepath.Join(t.TempDir(), name))...)
	}
	probe := buildBinary(t, "./internal/deploy/probe")
	for _, name := range names {
		hc := p.Services[name].HealthCheck
		if hc == nil || len(hc.Test) < 3 || hc.Test[1] != probePath {
			t.Errorf("%s: no probe health check", name)
			continue
		}
		cmd := localize(hc.Test[2:])
		waitFor(t, 90*time.Second, name+" passes its health check "+strings.Join(hc.Test[2:], " "), func() (bool, string) {
			out, code := runBinary(t, probe, cmd...)
			return code == 0, fmt.Sprintf("exit %d: %s", code, strings.TrimSpace(out))
		})
	}
	return local.Replace(natsURLs(p))
}
