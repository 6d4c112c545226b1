package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// exampleConf is the example server configuration shipped in deploy/.
func exampleConf(t *testing.T) string {
	return filepath.Join(repoRoot(t), "deploy", "nats-server.conf")
}

// confRoles are the users of deploy/nats-server.conf; their passwords come
// from CUSTODIAN_<ROLE>_PASSWORD.
var confRoles = []string{"node1", "node2", "operator", "admin", "dashboard", "notifier", "app", "sys"}

// rolePassword is the password a test gives a role of the example config.
func rolePassword(role string) string { return "pw-" + role + "-0a9f" }

// rolePasswordVar is the variable that holds role's password.
func rolePasswordVar(role string) string { return "CUSTODIAN_" + strings.ToUpper(role) + "_PASSWORD" }

// loadExampleConf parses deploy/nats-server.conf the way nats-server
// --config does, with the role passwords in the environment, and adapts it
// to a test: a random client port, no monitoring port, a temporary store.
func loadExampleConf(t *testing.T) *server.Options {
	t.Helper()
	for _, r := range confRoles {
		t.Setenv(rolePasswordVar(r), rolePassword(r))
	}
	opts, err := server.ProcessConfigFile(exampleConf(t))
	if err != nil {
		t.Fatalf("deploy/nats-server.conf: %v", err)
	}
	opts.Host = "127.0.0.1"
	opts.Port = server.RANDOM_PORT
	opts.HTTPPort = 0
	opts.HTTPHost = ""
	opts.StoreDir = t.TempDir()
	opts.NoLog = true
	opts.NoSigs = true
	return opts
}

// startServer starts a nats-server with opts and stops it when the test
// ends.
func startServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	if opts.StoreDir == "" && opts.JetStream {
		opts.StoreDir = t.TempDir()
	}
	opts.NoLog = opts.NoLog || os.Getenv("CUSTODIAN_NATS_LOG") == ""
	opts.NoSigs = true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("nats-server: %v", err)
	}
	if !opts.NoLog {
		s.ConfigureLogger()
	}
	go s.Start()
	if !s.ReadyForConnections(15 * time.Second) {
		s.Shutdown()
		t.Fatalf("nats-server %s not ready", opts.ServerName)
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}
