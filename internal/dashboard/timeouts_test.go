package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/natstest"
)

// TestSlowBodyIsCutOff: a real TCP client sends a login form one byte a
// second. With a read timeout of 1 s the dashboard answers and closes the
// connection long before 30 bytes (30 s) have gone; the form is not
// taken.
func TestSlowBodyIsCutOff(t *testing.T) {
	e := setup(t, Config{AdminToken: "slow-token", Limits: Limits{ReadTimeout: time.Second}})
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	form := "token=slow-token"
	if _, err := fmt.Fprintf(conn, "POST /login HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n",
		strings.TrimPrefix(e.url, "http://"), len(form)+40); err != nil {
		t.Fatal(err)
	}
	// The reader sees the answer, then the end of the connection.
	answer := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(conn)
		answer <- b
	}()
	sent := 0
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var got []byte
wait:
	for {
		select {
		case got = <-answer:
			break wait
		case <-tick.C:
			if sent == 30 {
				t.Fatalf("connection still open after %d body bytes at one a second", sent)
			}
			if _, err := conn.Write([]byte{form[sent%len(form)]}); err != nil {
				got = <-answer // closed under the write
				break wait
			}
			sent++
		}
	}
	if bytes.HasPrefix(got, []byte("HTTP/1.1 303")) || bytes.Contains(got, []byte(sessionCookie)) {
		t.Fatalf("the slow form was taken: %q", got)
	}
	t.Logf("cut off after %d body bytes; answer %q", sent, firstLine(got))
}

func firstLine(b []byte) string {
	line, _, _ := strings.Cut(string(b), "\r\n")
	return line
}

// TestLongAnswersOutliveTimeouts: with read and write timeouts of 300 ms,
// an event stream keeps delivering, and an action that waits 1 s for its
// command's reply is answered: both move the write deadline the server
// sets for ordinary answers.
func TestLongAnswersOutliveTimeouts(t *testing.T) {
	e := setup(t, Config{Heartbeat: 100 * time.Millisecond, CommandTimeout: 10 * time.Second,
		Limits: Limits{ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond}})
	c := e.stream("/api/stream", nil)

	// A supervisor that takes 1 s to reply.
	sub, err := e.nc.Subscribe(events.CmdSubject(prefix, "users", events.VerbCompact), func(m *nats.Msg) {
		select {
		case <-time.After(time.Second):
		case <-e.ctx.Done():
			return
		}
		b, _ := json.Marshal(events.CommandReply{CommandID: "slow-1", Accepted: true, Table: "users", Verb: events.VerbCompact})
		_ = m.Respond(b)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	var reply events.CommandReply
	if resp := e.do(http.MethodPost, "/api/tables/users/compact", nil, nil, &reply); resp.StatusCode != http.StatusAccepted || reply.CommandID != "slow-1" {
		t.Fatalf("slow action: %d %+v", resp.StatusCode, reply)
	}

	// The stream, open for more than three times the timeouts now, still
	// delivers.
	seq := natstest.MustPublish(e.ctx, t, e.js, prefix, ev(events.VerifyCompleted, "n1", "users"))
	if id, _ := c.next(t, 10*time.Second); id != e.eventID(seq) {
		t.Fatalf("stream gave id %s, want %s", id, e.eventID(seq))
	}
	// Ordinary requests still work under the short timeouts.
	var rows []map[string]any
	if resp := e.do(http.MethodGet, "/api/history", nil, nil, &rows); resp.StatusCode != http.StatusOK || len(rows) != 1 {
		t.Fatalf("history: %d, %d rows", resp.StatusCode, len(rows))
	}
}

// TestOversizedBodyIsNotRead: a body over the limit is refused with 413
// too_large, and the dashboard closes the connection instead of reading
// (and discarding) the rest of it.
func TestOversizedBodyIsNotRead(t *testing.T) {
	e := setup(t, Config{AdminToken: "tok"})
	big := `{"x":"` + strings.Repeat("a", 100<<10) + `"}`
	var ae apiError
	resp := e.do(http.MethodPost, "/api/tables/users/compact", strings.NewReader(big), map[string]string{"Authorization": "Bearer tok"}, &ae)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || ae.Error.Code != "too_large" || !resp.Close {
		t.Fatalf("oversized action body: %d %+v, connection close %v", resp.StatusCode, ae, resp.Close)
	}
	form := "token=" + strings.Repeat("a", 8<<10)
	resp = e.do(http.MethodPost, "/login", strings.NewReader(form), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, &ae)
	if resp.StatusCode != http.StatusRequestEntityTooLarge || ae.Error.Code != "too_large" || !resp.Close {
		t.Fatalf("oversized login form: %d %+v, connection close %v", resp.StatusCode, ae, resp.Close)
	}
}
