package deploy

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/nats-io/nats-server/v2/server"
)

const secureOverride = "deploy/compose.secure.yaml"

// composePasswords are the variables deploy/compose.secure.yaml requires.
func composePasswords() []string {
	var env []string
	for _, r := range confRoles {
		env = append(env, "CUSTODIAN_"+upper(r)+"_PASSWORD="+rolePassword(r))
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

func runComposeWithoutDocker(t *testing.T, env []string, files ...string) {
	hook := newWebhookSink(t)
	p := loadComposeFiles(t, append(env, "CUSTODIAN_WEBHOOK_URL="+hook.srv.URL), files...)
	checkServicesFlags(t, p)
	if t.Failed() {
		return
	}

	// The nats service: its command, with the mounted config read from
	// where compose mounts it from, and its environment.
	natsSvc := p.Services["nats"]
	args := make([]string, len(natsSvc.Command))
	for i, a := range natsSvc.Command {
		args[i] = a
		for _, v := range natsSvc.Volumes {
			if v.Type == types.VolumeTypeBind && a == v.Target {
				args[i] = v.Source
			}
		}
	}
	for k, v := range natsSvc.Environment {
		if v != nil {
			t.Setenv(k, *v)
		}
	}
	withConf := natsSvc
	withConf.Command = args
	opts := natsOptions(t, withConf)
	if !opts.JetStream || !inVolume(natsSvc, opts.StoreDir) {
		t.Fatalf("nats with %q: JetStream %v, store %q outside its volumes", args, opts.JetStream, opts.StoreDir)
	}
	if opts.Port == 0 {
		opts.Port = server.DEFAULT_PORT
	}
	if opts.HTTPPort != 8222 || opts.Port != 4222 {
		t.Errorf("nats with %q: client port %d, monitoring port %d; compose publishes 4222 and 8222", args, opts.Port, opts.HTTPPort)
	}
	opts.Host, opts.Port = "127.0.0.1", server.RANDOM_PORT
	opts.HTTPHost, opts.HTTPPort = "", 0
	opts.StoreDir = t.TempDir()
	s := startServer(t, opts)

	dashPort := freePorts(t, 1)[0]
	data := t.TempDir()
	local := strings.NewReplacer(
		"nats://nats:4222", s.ClientURL(),
		"--data=/data", "--data="+filepath.Join(data, "supervisor"),
		"0.0.0.0:8080", addr(dashPort),
		"127.0.0.1:8080", addr(dashPort),
	)
	localize := func(in []string) []string {
		out := make([]string, len(in))
		for i, a := range in {
			out[i] = local.Replace(a)
		}
		return out
	}
	for _, name := range custodianBinaries {
		svc := p.Services[name]
		bin := buildBinary(t, "./cmd/"+filepath.Base(svc.Entrypoint[0]))
		startProc(t, name, bin, nil, localize(svc.Command)...)
	}
	probe := buildBinary(t, "./internal/deploy/probe")
	for _, name := range custodianBinaries {
		hc := p.Services[name].HealthCheck
		if hc == nil || len(hc.Test) < 3 || hc.Test[1] != probePath {
			t.Errorf("%s: no probe health check", name)
			continue
		}
		cmd := localize(hc.Test[2:])
		waitFor(t, 60*time.Second, name+" passes its health check "+strings.Join(hc.Test[2:], " "), func() (bool, string) {
			out, code := runBinary(t, probe, cmd...)
			return code == 0, fmt.Sprintf("exit %d: %s", code, strings.TrimSpace(out))
		})
	}
}
