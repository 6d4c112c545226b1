package deploy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/custodian-dev/custodian/internal/natstest"
)

// TestProbeChecksTheRealServices runs the images' health-check probe the
// way compose.yaml does, against the real binaries.
func TestProbeChecksTheRealServices(t *testing.T) {
	probe := buildBinary(t, "./internal/deploy/probe")
	supBin := buildBinary(t, "./cmd/supervisor")
	dashBin := buildBinary(t, "./cmd/dashboard")
	notBin := buildBinary(t, "./cmd/notifier")
	s := startServer(t, &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true})
	url := s.ClientURL()

	startProc(t, "supervisor", supBin, nil, "--nats", url, "--data", t.TempDir(), "--node", "p1", "--tables", "users", "--dashboard", "off")
	dashPort := natstest.FreePorts(t, 1)[0]
	startProc(t, "dashboard", dashBin, nil, "--nats", url, "--listen", addr(dashPort))
	hook := newWebhookSink(t)
	startProc(t, "notifier", notBin, nil, "--nats", url, "--webhook", hook.srv.URL, "--name", "notifier")

	healthy := func(what string, args ...string) {
		t.Helper()
		waitFor(t, 45*time.Second, what, func() (bool, string) {
			out, code := runBinary(t, probe, args...)
			return code == 0, fmt.Sprintf("exit %d: %s", code, strings.TrimSpace(out))
		})
	}
	healthy("supervisor healthy", "request", "--nats="+url, "custodian.node.p1.status")
	healthy("dashboard healthy", "http", fmt.Sprintf("http://%s/healthz", addr(dashPort)))
	healthy("notifier healthy", "consumer", "--nats="+url, "notifier")

	for _, c := range [][]string{
		{"request", "--nats=" + url, "custodian.node.nobody.status"},
		{"http", fmt.Sprintf("http://%s/no-such-page", addr(dashPort))},
		{"consumer", "--nats=" + url, "nobody"},
		{"request", "--nats=nats://127.0.0.1:1", "custodian.node.p1.status"},
	} {
		out, code := runBinary(t, probe, c...)
		if code != 1 || !strings.HasPrefix(out, "custodian-probe: ") {
			t.Errorf("probe %q: exit %d, want 1 with a reason; output %q", c, code, out)
		}
	}
}
