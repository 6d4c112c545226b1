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

// actionVerbs are the verbs the dashboard sends; salvage and status are
// for the CLI.
func actionVerb(v string) bool {
	switch v {
	case events.VerbCompact, events.VerbBackup, events.VerbVerify, events.VerbRestore:
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
		writeAPIError(w, apierr.New(apierr.NotFound, "table %s: no action %q (compact, backup, verify, restore)", table, verb))
		return
	}
	body, wait, err := readActionBody(w, r)
	if err != nil {
		writeAPIError(w, err)
		return
	}
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
	reply, err := s.nc.RequestWithContext(ctx, events.CmdSubject(s.cfg.Prefix, table, verb), body)
	switch {
	case errors.Is(err, nats.ErrNoResponders):
		writeAPIError(w, apierr.New(apierr.NotFound, "table %s: no supervisor owns this table", table))
		return
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
		writeError(w, http.StatusGatewayTimeout, string(apierr.Internal), "table "+table+": "+verb+": no reply within "+timeout.String())
		return
	case err != nil:
		writeAPIError(w, apierr.Wrap(apierr.Internal, err, "table %s: %s", table, verb))
		return
	}
	writeReply(w, reply)
}

// readActionBody reads the optional JSON object of an action and reports
// whether it asks to wait for the outcome. A body over maxActionBody is
// refused before more is read (and the connection closed after).
func readActionBody(w http.ResponseWriter, r *http.Request) (body []byte, wait bool, err error) {
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
	return b, wait, nil
}

// writeReply passes the supervisor's reply through: a service error keeps
// its code and status, an accepted command answers 202 (200 when the reply
// carries the outcome).
func writeReply(w http.ResponseWriter, reply *nats.Msg) {
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
	if body.Result != "" {
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
