package deploy

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

// asyncErrors collects the errors the server sends a client asynchronously
// (permissions violations).
type asyncErrors struct {
	mu   sync.Mutex
	errs []error
}

func (a *asyncErrors) handler(_ *nats.Conn, _ *nats.Subscription, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.errs = append(a.errs, err)
}

// violation returns the permissions violation reported for subject, if any.
func (a *asyncErrors) violation(subject string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, err := range a.errs {
		if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(err.Error(), subject) {
			return err
		}
	}
	return nil
}

// roleConn connects as a user of the example config, recording async errors.
func roleConn(t *testing.T, url, role string) (*nats.Conn, *asyncErrors) {
	t.Helper()
	ae := &asyncErrors{}
	o := bus.ConnOptions{URL: url, User: role, Password: rolePassword(role), Name: "test-" + role}
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	nc, err := o.Connect(ctx, nats.ErrorHandler(ae.handler))
	if err != nil {
		t.Fatalf("connect as %s: %v", role, err)
	}
	t.Cleanup(nc.Close)
	return nc, ae
}

// roleFlags are the binaries' flags for a user of the example config.
func roleFlags(url, role string) []string {
	return []string{"--nats", url, "--nats-user", role, "--nats-password", rolePassword(role)}
}

// wantDenied sends a request that the example config forbids to role and
// checks that the server refused it (a permissions violation naming the
// subject) and that no responder answered.
func wantDenied(t *testing.T, nc *nats.Conn, ae *asyncErrors, role, subject string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	msg, err := nc.RequestWithContext(ctx, subject, []byte(`{"wait":true}`))
	if err == nil {
		t.Errorf("%s: %s was answered (%q), want it refused by NATS", role, subject, msg.Data)
		return
	}
	waitFor(t, 5*time.Second, role+": permissions violation for "+subject, func() (bool, string) {
		return ae.violation(subject) != nil, fmt.Sprint(err)
	})
}

// TestRolesOfTheExampleConfig runs the real supervisor, dashboard and
// notifier binaries against a nats-server configured by
// deploy/nats-server.conf, each as its role, and checks what every role may
// and may not do.
func TestRolesOfTheExampleConfig(t *testing.T) {
	supBin := buildBinary(t, "./cmd/supervisor")
	dashBin := buildBinary(t, "./cmd/dashboard")
	notBin := buildBinary(t, "./cmd/notifier")
	s := startServer(t, loadExampleConf(t))
	url := s.ClientURL()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	data := t.TempDir()
	sup := startProc(t, "supervisor node1", supBin, nil, append(roleFlags(url, "node1"),
		"--node", "node1", "--tables", "users,spare", "--data", data, "--dashboard", "off")...)
	op, opErrs := roleConn(t, url, "operator")
	waitFor(t, 60*time.Second, "supervisor node1 serves (status as operator)", func() (bool, string) {
		if sup.exited() {
			t.Fatalf("supervisor exited: %v\n%s", sup.err, tail(sup.out.String(), 3000))
		}
		rctx, c := context.WithTimeout(ctx, time.Second)
		defer c()
		err := request(rctx, op, "custodian.node.node1.status", nil, nil)
		return err == nil, fmt.Sprint(err)
	})

	// The application role writes data; it may not send commands.
	app, appErrs := roleConn(t, url, "app")
	for i := 0; i < 20; i++ {
		var reply map[string]any
		if err := request(ctx, app, "custodian.kv.users.put", map[string]any{"key": fmt.Sprintf("u%02d", i), "value": i}, &reply); err != nil || reply["error"] != nil {
			t.Fatalf("app: put: %v %v", err, reply)
		}
	}
	wantDenied(t, app, appErrs, "app", "custodian.cmd.users.compact")

	// The operator compacts and backs up...
	for _, verb := range []string{"compact", "backup", "verify"} {
		var rep commandReply
		if err := request(ctx, op, "custodian.cmd.users."+verb, map[string]any{"wait": true, "force": true}, &rep); err != nil {
			t.Fatalf("operator: %s: %v", verb, err)
		}
		if rep.Error != nil || !rep.Accepted || rep.Event == nil {
			t.Fatalf("operator: %s: %+v", verb, rep)
		}
	}
	// ...but restore, salvage, table creation and writes are refused by NATS.
	wantDenied(t, op, opErrs, "operator", "custodian.cmd.users.restore")
	wantDenied(t, op, opErrs, "operator", "custodian.cmd.users.salvage")
	wantDenied(t, op, opErrs, "operator", "custodian.node.node1.create")
	wantDenied(t, op, opErrs, "operator", "custodian.kv.users.put")
	// The refused commands changed nothing: the data is all there, nothing
	// was quarantined, and the stream has no trace of them.
	var got struct {
		Key   string `json:"key"`
		Value int    `json:"value"`
	}
	if err := request(ctx, op, "custodian.kv.users.get", map[string]any{"key": "u19"}, &got); err != nil || got.Value != 19 {
		t.Errorf("operator: get u19 after the refused restore: %+v %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(data, "quarantine", "users")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("quarantine/users exists after a refused restore (stat: %v)", err)
	}
	js, err := jetstream.New(op)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := readStream(ctx, js)
	if err != nil {
		t.Fatalf("operator reads the stream: %v", err)
	}
	verbs := map[string]int{}
	for _, e := range evs {
		if e.Node != "node1" {
			t.Errorf("event from node %q", e.Node)
		}
		verbs[e.Type]++
		if strings.HasPrefix(e.Type, "restore.") || strings.HasPrefix(e.Type, "salvage") || e.Type == events.CommandRejected {
			t.Errorf("stream has %s for %s after refused commands", e.Type, e.Table)
		}
	}
	if verbs[events.CompactionCompleted]+verbs[events.CompactionSkipped] == 0 || verbs[events.BackupCompleted] == 0 {
		t.Errorf("the operator's compact and backup left no outcome in the stream: %v", verbs)
	}

	// The dashboard runs read-only: it shows the cards, its buttons are
	// refused by NATS.
	dashPort := natstest.FreePorts(t, 1)[0]
	dashURL := "http://" + addr(dashPort)
	startProc(t, "dashboard", dashBin, nil, append(roleFlags(url, "dashboard"), "--listen", addr(dashPort))...)
	waitFor(t, 30*time.Second, "the read-only dashboard shows node1/users", func() (bool, string) {
		var cards []struct {
			Node  string `json:"node"`
			Table string `json:"table"`
		}
		if err := getJSON(ctx, dashURL+"/api/tables", &cards); err != nil {
			return false, err.Error()
		}
		// Ready: it read both streams, CUSTODIAN_STATS included.
		var health map[string]any
		if err := getJSON(ctx, dashURL+"/healthz", &health); err != nil || health["status"] != "ok" {
			return false, fmt.Sprintf("healthz %v %v", health, err)
		}
		for _, c := range cards {
			if c.Node == "node1" && c.Table == "users" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d cards", len(cards))
	})
	before := len(evs)
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, dashURL+"/api/tables/users/compact", strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		t.Errorf("read-only dashboard: POST compact answered %s, want a refusal", resp.Status)
	}

	// The notifier, as its role, delivers the failure of a restore that
	// the admin asked for (spare has no backup).
	hook := newWebhookSink(t)
	startProc(t, "notifier", notBin, nil, append(roleFlags(url, "notifier"), "--webhook", hook.srv.URL)...)
	admin, _ := roleConn(t, url, "admin")
	var rep commandReply
	if err := request(ctx, admin, "custodian.cmd.spare.restore", map[string]any{"wait": true}, &rep); err != nil || rep.Event == nil {
		t.Fatalf("admin: restore spare: %v %+v", err, rep)
	}
	if rep.Event.Type != events.RestoreFailed {
		t.Fatalf("admin: restore of a table without backups: %s, want restore.failed", rep.Event.Type)
	}
	waitFor(t, 60*time.Second, "the notifier delivers restore.failed", func() (bool, string) {
		return hook.deliveries(rep.Event.ID) == 1, fmt.Sprint(hook.deliveries(rep.Event.ID))
	})

	// Between the refused POST and the admin's restore nothing else arrived
	// from the dashboard: no compaction was accepted for it.
	evs, err = readStream(ctx, js)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs[before:] {
		if e.Type == events.CommandAccepted && e.Table == "users" {
			t.Errorf("a command reached the supervisor from the read-only dashboard: %+v", e)
		}
	}
}
