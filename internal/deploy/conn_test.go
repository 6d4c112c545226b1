package deploy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/custodian-dev/custodian/internal/bus"
)

// connectTimeout bounds every connection attempt of these tests: a refused
// connection must come back with the server's reason well before it.
const connectTimeout = 30 * time.Second

// tryConnect connects with o and returns the error; a success is closed.
// An error that is the context's own means the attempt hung.
func tryConnect(t *testing.T, o bus.ConnOptions) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	nc, err := o.Connect(ctx)
	if err == nil {
		// Prove the connection works: a round trip to the server.
		if ferr := nc.FlushTimeout(5 * time.Second); ferr != nil {
			nc.Close()
			return ferr
		}
		nc.Close()
		return nil
	}
	if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("connect hung until the deadline instead of failing with the server's reason: %v", err)
	}
	return err
}

// wantRefused fails unless err is a refusal whose message says why.
func wantRefused(t *testing.T, what string, err error, target error, words ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: connected, want a refusal", what)
	}
	if target != nil && !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
	msg := strings.ToLower(err.Error())
	for _, w := range words {
		if strings.Contains(msg, strings.ToLower(w)) {
			return
		}
	}
	if len(words) > 0 {
		t.Errorf("%s: error %q names none of %q", what, err, words)
	}
}

func TestConnUserPasswordAgainstExampleConfig(t *testing.T) {
	s := startServer(t, loadExampleConf(t))
	ok := bus.ConnOptions{URL: s.ClientURL(), User: "operator", Password: rolePassword("operator")}
	if err := tryConnect(t, ok); err != nil {
		t.Fatalf("operator with the right password: %v", err)
	}
	bad := ok
	bad.Password = "wrong"
	wantRefused(t, "wrong password", tryConnect(t, bad), nats.ErrAuthorization, "authorization")
	none := bus.ConnOptions{URL: s.ClientURL()}
	wantRefused(t, "no credentials", tryConnect(t, none), nats.ErrAuthorization, "authorization")
}

func TestConnToken(t *testing.T) {
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, Authorization: "s3cr3t-token"}
	s := startServer(t, opts)
	if err := tryConnect(t, bus.ConnOptions{URL: s.ClientURL(), Token: "s3cr3t-token"}); err != nil {
		t.Fatalf("right token: %v", err)
	}
	wantRefused(t, "wrong token", tryConnect(t, bus.ConnOptions{URL: s.ClientURL(), Token: "nope"}), nats.ErrAuthorization, "authorization")
}

// TestConnNkeySeedFile: a server with a plain nkey user; --nats-creds given
// a file holding only the user's seed.
func TestConnNkeySeedFile(t *testing.T) {
	user, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := user.PublicKey()
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, Nkeys: []*server.NkeyUser{{Nkey: pub}}}
	s := startServer(t, opts)

	dir := t.TempDir()
	seedFile := writeSeed(t, dir, "user.nk", user)
	if err := tryConnect(t, bus.ConnOptions{URL: s.ClientURL(), Creds: seedFile}); err != nil {
		t.Fatalf("nkey seed file: %v", err)
	}
	stranger, _ := nkeys.CreateUser()
	wantRefused(t, "unknown nkey", tryConnect(t, bus.ConnOptions{URL: s.ClientURL(), Creds: writeSeed(t, dir, "other.nk", stranger)}), nats.ErrAuthorization, "authorization")

	garbage := filepath.Join(dir, "garbage.creds")
	if err := os.WriteFile(garbage, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, "malformed creds file", tryConnect(t, bus.ConnOptions{URL: s.ClientURL(), Creds: garbage}), nil, "--nats-creds")
}

func writeSeed(t *testing.T, dir, name string, kp nkeys.KeyPair) string {
	t.Helper()
	seed, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, append(seed, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestConnJWTCreds: a server in operator mode (decentralised auth) trusting
// an operator made by the test; --nats-creds is a user's JWT creds file.
func TestConnJWTCreds(t *testing.T) {
	op, _ := nkeys.CreateOperator()
	opPub, _ := op.PublicKey()
	opClaims := jwt.NewOperatorClaims(opPub)
	if _, err := opClaims.Encode(op); err != nil {
		t.Fatal(err)
	}
	acct, _ := nkeys.CreateAccount()
	acctPub, _ := acct.PublicKey()
	acctJWT, err := jwt.NewAccountClaims(acctPub).Encode(op)
	if err != nil {
		t.Fatal(err)
	}
	resolver := &server.MemAccResolver{}
	if err := resolver.Store(acctPub, acctJWT); err != nil {
		t.Fatal(err)
	}
	opts := &server.Options{
		Host:             "127.0.0.1",
		Port:             server.RANDOM_PORT,
		TrustedOperators: []*jwt.OperatorClaims{opClaims},
		AccountResolver:  resolver,
	}
	s := startServer(t, opts)

	dir := t.TempDir()
	good := writeCreds(t, dir, "good.creds", acct)
	if err := tryConnect(t, bus.ConnOptions{URL: s.ClientURL(), Creds: good}); err != nil {
		t.Fatalf("JWT creds: %v", err)
	}
	// A user signed by an account the operator never signed.
	rogue, _ := nkeys.CreateAccount()
	wantRefused(t, "untrusted account", tryConnect(t, bus.ConnOptions{URL: s.ClientURL(), Creds: writeCreds(t, dir, "rogue.creds", rogue)}), nats.ErrAuthorization, "authorization")
}

// writeCreds makes a user signed by acct and writes its creds file.
func writeCreds(t *testing.T, dir, name string, acct nkeys.KeyPair) string {
	t.Helper()
	user, _ := nkeys.CreateUser()
	userPub, _ := user.PublicKey()
	userJWT, err := jwt.NewUserClaims(userPub).Encode(acct)
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := user.Seed()
	creds, err := jwt.FormatUserConfig(userJWT, seed)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// tlsServer starts a server that requires TLS with a client certificate
// signed by its CA. It returns the server and the PKI directory.
func tlsServer(t *testing.T) (*server.Server, *testCA, string) {
	t.Helper()
	dir := t.TempDir()
	ca := newTestCA(t, dir, "ca")
	cert, key := ca.issue(t, dir, "server", true)
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cert, KeyFile: key, CaFile: ca.CertPEM, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	opts := &server.Options{Host: "127.0.0.1", Port: server.RANDOM_PORT, TLS: true, TLSVerify: true, TLSConfig: tc, TLSTimeout: 2, JetStream: true}
	return startServer(t, opts), ca, dir
}

func TestConnTLSWithClientCertificate(t *testing.T) {
	s, ca, dir := tlsServer(t)
	cert, key := ca.issue(t, dir, "client", false)
	url := "tls://" + s.Addr().String()
	if err := tryConnect(t, bus.ConnOptions{URL: url, CA: ca.CertPEM, Cert: cert, Key: key}); err != nil {
		t.Fatalf("TLS with the CA and a client certificate: %v", err)
	}

	// The server's certificate is not signed by the CA the client trusts.
	other := newTestCA(t, dir, "other-ca")
	otherCert, otherKey := other.issue(t, dir, "other-client", false)
	wantRefused(t, "untrusted server certificate", tryConnect(t, bus.ConnOptions{URL: url, CA: other.CertPEM, Cert: cert, Key: key}), nil,
		"certificate signed by unknown authority", "x509")
	// The client's certificate is not signed by the CA the server trusts.
	err := tryConnect(t, bus.ConnOptions{URL: url, CA: ca.CertPEM, Cert: otherCert, Key: otherKey})
	wantRefused(t, "untrusted client certificate", err, nil, "certificate", "tls", "eof", "connection reset")
	// No client certificate at all.
	err = tryConnect(t, bus.ConnOptions{URL: url, CA: ca.CertPEM})
	wantRefused(t, "no client certificate", err, nil, "certificate", "tls", "eof", "connection reset")
}
