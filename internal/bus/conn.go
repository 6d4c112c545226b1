package bus

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
)

// ConnOptions are the contract's common NATS flags.
type ConnOptions struct {
	URL      string
	Creds    string
	User     string
	Password string
	Token    string
	CA       string
	Cert     string
	Key      string
	Name     string // client name shown by the server
}

// Register adds --nats, --nats-creds, --nats-user, --nats-password,
// --nats-token, --nats-ca, --nats-cert and --nats-key to fs. --nats defaults
// to $NATS_URL.
func (o *ConnOptions) Register(fs *flag.FlagSet) {
	fs.StringVar(&o.URL, "nats", os.Getenv("NATS_URL"), "NATS server URL(s), comma-separated (env NATS_URL)")
	fs.StringVar(&o.Creds, "nats-creds", "", "NATS credentials file (JWT and nkey seed, or an nkey seed alone)")
	fs.StringVar(&o.User, "nats-user", "", "NATS user name")
	fs.StringVar(&o.Password, "nats-password", "", "NATS password")
	fs.StringVar(&o.Token, "nats-token", "", "NATS authentication token")
	fs.StringVar(&o.CA, "nats-ca", "", "CA certificate file to verify the NATS server")
	fs.StringVar(&o.Cert, "nats-cert", "", "client certificate file for NATS TLS")
	fs.StringVar(&o.Key, "nats-key", "", "client key file for NATS TLS")
}

// Validate checks the combination of options without connecting.
func (o *ConnOptions) Validate() error {
	if (o.Cert == "") != (o.Key == "") {
		return errors.New("--nats-cert and --nats-key go together")
	}
	if o.Password != "" && o.User == "" {
		return errors.New("--nats-password needs --nats-user")
	}
	for _, f := range []struct{ flag, path string }{{"--nats-creds", o.Creds}, {"--nats-ca", o.CA}, {"--nats-cert", o.Cert}, {"--nats-key", o.Key}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return fmt.Errorf("%s: %w", f.flag, err)
		}
	}
	return nil
}

// NatsOptions turns the options into nats.go options. Reconnects go on
// forever: a supervisor must outlive an outage.
func (o *ConnOptions) NatsOptions() []nats.Option {
	opts := []nats.Option{
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(false),
	}
	if o.Name != "" {
		opts = append(opts, nats.Name(o.Name))
	}
	if o.Creds != "" {
		opts = append(opts, credsOption(o.Creds))
	}
	if o.User != "" {
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.CA != "" {
		opts = append(opts, nats.RootCAs(o.CA))
	}
	if o.Cert != "" {
		opts = append(opts, nats.ClientCert(o.Cert, o.Key))
	}
	return opts
}

// credsOption authenticates with a credentials file: a JWT creds file (JWT
// and nkey seed, decentralised auth) or a file holding only an nkey seed (a
// server configured with `nkey: U...` users). The file is read at connect
// time; an unreadable or malformed file fails the connection.
func credsOption(path string) nats.Option {
	return func(opts *nats.Options) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("--nats-creds: %w", err)
		}
		if bytes.Contains(b, []byte("BEGIN NATS USER JWT")) {
			return nats.UserCredentials(path)(opts)
		}
		nkeyOpt, err := nats.NkeyOptionFromSeed(path)
		if err != nil {
			return fmt.Errorf("--nats-creds %s: neither a JWT creds file nor an nkey seed: %w", path, err)
		}
		return nkeyOpt(opts)
	}
}

// Connect dials o.URL. The first connection must succeed within ctx (a wrong
// password or an untrusted certificate fails at once with the server's
// reason); after that the client reconnects on its own.
func (o *ConnOptions) Connect(ctx context.Context, extra ...nats.Option) (*nats.Conn, error) {
	if o.URL == "" {
		return nil, errors.New("no NATS URL: give --nats or set NATS_URL")
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	opts := append(o.NatsOptions(), extra...)
	if dl, ok := ctx.Deadline(); ok {
		opts = append(opts, nats.Timeout(time.Until(dl)))
	}
	type result struct {
		nc  *nats.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(o.URL, opts...)
		ch <- result{nc, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("connect to NATS %s: %w", o.URL, r.err)
		}
		return r.nc, nil
	case <-ctx.Done():
		go func() {
			if r := <-ch; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("connect to NATS %s: %w", o.URL, ctx.Err())
	}
}
