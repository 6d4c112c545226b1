package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
)

// maxActionBody bounds the JSON body of an action.
const maxActionBody = 64 << 10

// actionVerb reports whether v is a verb the dashboard sends for a table;
// salvage and status are for the CLI.
func actionVerb(v string) bool {
	switch v {
	case events.VerbCompact, events.VerbBackup, events.VerbVerify, events.VerbRestore, events.VerbDrill:
		return true
	}
	return false
}

// nodeActionVerb reports whether v is a verb the dashboard sends for every
// table of a node (<prefix>.node.<node>.<verb>).
func nodeActionVerb(v string) bool {
	switch v {
	case events.VerbCompact, events.VerbBackup, events.VerbVerify, events.VerbDrill:
		return true
	}
	return false
}

// POST /api/tables/{table}/{verb}: send the command over NATS and answer
// with the supervisor's reply (which carries the command id).
func (s *Server) handleAction(w http.ResponseWriter, r *http.Request) {
	if !s.auth.allowPost(w, r) {
		return
	}
	table, verb := r.PathValue("table"), r.PathValue("verb")
	if !events.ValidTable(table) {
		writeAPIError(w, apierr.New(apierr.InvalidTable, "invalid table name %q", table))
		return
	}
	if !actionVerb(verb) {
		writeAPIError(w, apierr.New(apierr.NotFound, "table %s: no action %q (compact, backup, verify, restore, drill)", table, verb))
		return
	}
	body, wait, err := readActionBody(w, r, verb)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	s.send(w, r, events.CmdSubject(s.cfg.Prefix, table, verb), "table "+table+": "+verb, body, wait,
		"table "+table+": no supervisor owns this table")
}

// POST /api/nodes/{node}/{verb}: send the verb to every table of the node
// (<prefix>.node.<node>.<verb>) and answer with the supervisor's reply: a
// command per table, and the tables that refused theirs.
func (s *Server) handleNodeAction(w http.ResponseWriter, r *http.Request) {
	if !s.auth.allowPost(w, r) {
		return
	}
	node, verb := r.PathValue("node"), r.PathValue("verb")
	if !events.ValidNode(node) {
		writeAPIError(w, apierr.New(apierr.InvalidRequest, "invalid node name %q: want one subject token (letters, digits, _ and -)", node))
		return
	}
	if !nodeActionVerb(verb) {
		writeAPIError(w, apierr.New(apierr.InvalidRequest, "node %s: no action %q (compact, backup, verify, drill)", node, verb))
		return
	}
	body, wait, err := readActionBody(w, r, verb)
	if err != nil {
		writeAPIError(w, err)
		return
	}
	s.send(w, r, events.NodeSubject(s.cfg.Prefix, node, verb), "node "+node+": "+verb, body, wait,
		"node "+node+": no supervisor runs this node")
}

// send requests subject with body and answers with the reply (what names
// the request in errors; nobody is the 404 message when no one answers).
func (s *Server) send(w http.ResponseWriter, r *http.Request, subject, what string, body []byte, wait bool, nobody string) {
	timeout := s.cfg.CommandTimeout
	if wait && timeout < 10*time.Minute {
		timeout = 10 * time.Minute
	}
	// The answer comes after the command's reply: it may take the
	// command's timeout more than other answers.
	if err := writeDeadlineIn(w, timeout+s.cfg.Limits.WriteTimeout); err != nil {
		writeAPIError(w, apierr.Wrap(apierr.Internal, err, "write deadline"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	reply, err := s.nc.RequestWithContext(ctx, subject, body)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		writeAPIError(w, apierr.New(apierr.NotFound, "%s", nobody))
		return
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		writeError(w, http.StatusGatewayTimeout, string(apierr.Internal), what+": no reply within "+timeout.String())
		return
	case err != nil:
		writeAPIError(w, apierr.Wrap(apierr.Internal, err, "%s", what))
		return
	}
	writeReply(w, reply, wait)
}

// readActionBody reads the optional JSON object of an action and reports
// whether it asks to wait for the outcome. A body over maxActionBody is
// refused before more is read (and the connection closed after). "at"
// (restore only) must be an RFC 3339 time.
func readActionBody(w http.ResponseWriter, r *http.Request, verb string) (body []byte, wait bool, err error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxActionBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, false, apierr.New(apierr.TooLarge, "body larger than %d bytes", maxActionBody)
	}
	if err != nil {
		return nil, false, apierr.Wrap(apierr.InvalidRequest, err, "read body")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, false, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, false, apierr.New(apierr.InvalidRequest, "body must be a JSON object: %v", err)
	}
	if raw, ok := fields["wait"]; ok {
		_ = json.Unmarshal(raw, &wait)
	}
	if raw, ok := fields["at"]; ok {
		if err := checkAt(verb, raw); err != nil {
			return nil, false, err
		}
	}
	return b, wait, nil
}

// checkAt refuses an "at" that is not an RFC 3339 time, or on a verb other
// than restore.
func checkAt(verb string, raw json.RawMessage) error {
	if verb != events.VerbRestore {
		return apierr.New(apierr.InvalidRequest, `"at" is for restore only, not %s`, verb)
	}
	var at string
	if err := json.Unmarshal(raw, &at); err != nil {
		return apierr.New(apierr.InvalidRequest, `"at" must be an RFC 3339 time as a string, not %s`, events.Echo(string(raw)))
	}
	if at == "" {
		return apierr.New(apierr.InvalidRequest, `"at" is empty: leave it out to restore the latest state`)
	}
	if _, err := time.Parse(time.RFC3339Nano, at); err != nil {
		return apierr.New(apierr.InvalidRequest, `"at" must be an RFC 3339 time (2026-11-26T10:15:00Z), not %q`, events.Echo(at))
	}
	return nil
}

// writeReply passes the supervisor's reply through: a service error keeps
// its code and status, an accepted command answers 202 (200 when the reply
// carries the outcome, or, for a node's commands, when waited is true: the
// supervisor answers those after every table's outcome).
func writeReply(w http.ResponseWriter, reply *nats.Msg, waited bool) {
	if code := reply.Header.Get("Nats-Service-Error-Code"); code != "" {
		status, err := strconv.Atoi(code)
		if err != nil || status < 400 || status > 599 {
			status = http.StatusInternalServerError
		}
		var eb errorBody
		if json.Unmarshal(reply.Data, &eb) == nil && eb.Error.Code != "" {
			writeRaw(w, status, reply.Data)
			return
		}
		msg := reply.Header.Get("Nats-Service-Error")
		if msg == "" {
			msg = string(reply.Data)
		}
		writeError(w, status, string(codeFromStatus(status)), msg)
		return
	}
	var body struct {
		CommandID string          `json:"command_id"`
		Result    string          `json:"result"`
		Commands  json.RawMessage `json:"commands"`
		Error     json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(reply.Data, &body); err != nil {
		writeError(w, http.StatusBadGateway, string(apierr.Internal), "supervisor reply is not JSON: "+err.Error())
		return
	}
	if len(body.Error) > 0 {
		// An error body without the service headers.
		var eb errorBody
		status := http.StatusInternalServerError
		if json.Unmarshal(reply.Data, &eb) == nil {
			status = apierr.Code(eb.Error.Code).Status()
		}
		writeRaw(w, status, reply.Data)
		return
	}
	status := http.StatusAccepted
	if body.Result != "" || (waited && len(body.Commands) > 0) {
		status = http.StatusOK
	}
	writeRaw(w, status, reply.Data)
}

func codeFromStatus(status int) apierr.Code {
	for _, c := range []apierr.Code{apierr.InvalidRequest, apierr.NotFound, apierr.Busy, apierr.TooLarge, apierr.TableUnavailable} {
		if c.Status() == status {
			return c
		}
	}
	return apierr.Internal
}
