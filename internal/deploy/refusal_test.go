package deploy

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/bus"
)

// TestBinariesExitOnRefusedConnection: each binary, given a wrong password
// or a server certificate it cannot trust, exits non-zero with a one-line
// reason instead of hanging or retrying forever.
func TestBinariesExitOnRefusedConnection(t *testing.T) {
	bins := map[string]string{}
	for _, b := range custodianBinaries {
		bins[b] = buildBinary(t, "./cmd/"+b)
	}
	s := startServer(t, loadExampleConf(t))
	tlsSrv, _, pki := tlsServer(t)
	other := newTestCA(t, pki, "untrusted-ca")
	clientCert, clientKey := other.issue(t, pki, "client-of-other", false)

	// extra flags each binary needs besides the connection's.
	extra := func(bin string) []string {
		switch bin {
		case "supervisor":
			return []string{"--data", t.TempDir(), "--node", "n1", "--dashboard", "off"}
		case "dashboard":
			return []string{"--listen", "127.0.0.1:0"}
		case "notifier":
			return []string{"--webhook", "http://127.0.0.1:9/"}
		}
		return nil
	}
	cases := []struct {
		name  string
		conn  []string
		words []string
	}{
		{"wrong password", []string{"--nats", s.ClientURL(), "--nats-user", "operator", "--nats-password", "wrong"}, []string{"authorization violation"}},
		{"untrusted server certificate", []string{"--nats", "tls://" + tlsSrv.Addr().String(), "--nats-ca", other.CertPEM, "--nats-cert", clientCert, "--nats-key", clientKey}, []string{"x509", "certificate"}},
	}
	for _, bin := range custodianBinaries {
		for _, c := range cases {
			t.Run(bin+"/"+c.name, func(t *testing.T) {
				p := startProc(t, bin, bins[bin], nil, append(c.conn, extra(bin)...)...)
				select {
				case <-p.done:
				case <-time.After(60 * time.Second):
					t.Fatalf("%s still running a minute after a refused connection:\n%s", bin, tail(p.out.String(), 2000))
				}
				if p.err == nil {
					t.Fatalf("%s exited 0 after a refused connection:\n%s", bin, p.out.String())
				}
				out := strings.ToLower(p.out.String())
				found := false
				for _, w := range c.words {
					found = found || strings.Contains(out, w)
				}
				if !found {
					t.Errorf("%s: output names none of %q:\n%s", bin, c.words, p.out.String())
				}
				t.Logf("%s: %v: %s", bin, p.err, strings.TrimSpace(tail(p.out.String(), 300)))
			})
		}
	}
}

// TestSupervisorOverMutualTLS: the supervisor binary connects with
// --nats-ca, --nats-cert and --nats-key to a server that requires client
// certificates, and serves.
func TestSupervisorOverMutualTLS(t *testing.T) {
	bin := buildBinary(t, "./cmd/supervisor")
	s, ca, pki := tlsServer(t)
	cert, key := ca.issue(t, pki, "supervisor", false)
	url := "tls://" + s.Addr().String()
	p := startProc(t, "supervisor", bin, nil, "--nats", url, "--nats-ca", ca.CertPEM, "--nats-cert", cert, "--nats-key", key,
		"--data", t.TempDir(), "--node", "tls1", "--tables", "users", "--dashboard", "off")
	opCert, opKey := ca.issue(t, pki, "operator", false)
	o := bus.ConnOptions{URL: url, CA: ca.CertPEM, Cert: opCert, Key: opKey}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nc, err := o.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	waitFor(t, 45*time.Second, "the supervisor answers over TLS", func() (bool, string) {
		if p.exited() {
			t.Fatalf("supervisor exited: %v\n%s", p.err, p.out.String())
		}
		var rep commandReply
		rctx, c := context.WithTimeout(ctx, 2*time.Second)
		defer c()
		err := request(rctx, nc, "custodian.cmd.users.backup", map[string]any{"wait": true}, &rep)
		return err == nil && rep.Result == "ok", fmt.Sprintf("%v %+v", err, rep)
	})
}
