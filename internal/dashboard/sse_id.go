package dashboard

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// sseID is an SSE event id: the projection's generation (the stream's
// creation time in unix ns, see projections.Projection.Generation) and the
// sequence in it,
// written "<gen>-<seq>". Sequences start over when the event stream is
// deleted and created anew; the generation tells a resume from an old
// stream (the client gets the new stream from its start) from a resume
// within the current one. A plain "<seq>" (gen 0) means the current stream.
type sseID struct {
	gen int64
	seq uint64
}

func (id sseID) String() string {
	return strconv.FormatInt(id.gen, 10) + "-" + strconv.FormatUint(id.seq, 10)
}

func parseSSEID(s string) (sseID, error) {
	g, q, found := strings.Cut(s, "-")
	if !found {
		seq, err := strconv.ParseUint(s, 10, 64)
		return sseID{seq: seq}, err
	}
	gen, err := strconv.ParseInt(g, 10, 64)
	if err != nil || gen < 0 {
		return sseID{}, strconv.ErrSyntax
	}
	seq, err := strconv.ParseUint(q, 10, 64)
	return sseID{gen: gen, seq: seq}, err
}

// resumePoint reads where a client resumes: the Last-Event-ID header (an
// EventSource reconnecting) or the "after" parameter. resume is false for
// a new client, which gets only new rows.
func resumePoint(r *http.Request) (from sseID, resume bool, err error) {
	v, name := r.Header.Get("Last-Event-ID"), "Last-Event-ID"
	if v == "" {
		v, name = r.URL.Query().Get("after"), "after"
	}
	if v == "" {
		return sseID{}, false, nil
	}
	from, perr := parseSSEID(v)
	if perr != nil {
		return sseID{}, false, apierr.New(apierr.InvalidRequest, "%s %q is not an event id (GENERATION-SEQ or SEQ)", name, v)
	}
	return from, true, nil
}
