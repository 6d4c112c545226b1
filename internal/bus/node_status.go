package bus

import (
	"context"
	"encoding/json"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/supervisor"
)

// Pages of node status: a node of 10,000 tables answers at most
// MaxNodeStatusLimit tables a request (DefaultNodeStatusLimit without a
// limit), and fewer when their statuses would pass the node reply bound
// (maxNodeReply): the reply then says truncated and next_offset.
const (
	DefaultNodeStatusLimit = 500
	MaxNodeStatusLimit     = 1000
)

// nodeStatusBody is the optional body of <prefix>.node.<node>.status. An
// empty body is the first page of every table.
type nodeStatusBody struct {
	Limit  *int   `json:"limit"`
	Offset int    `json:"offset"`
	State  string `json:"state"`
}

// decodeNodeStatus decodes and checks a node status body: invalid_request
// for anything else than the fields above with valid values.
func decodeNodeStatus(data []byte) (supervisor.StatusQuery, error) {
	var b nodeStatusBody
	if err := decodeStrict(data, &b, true); err != nil {
		return supervisor.StatusQuery{}, err
	}
	q := supervisor.StatusQuery{Limit: DefaultNodeStatusLimit, Offset: b.Offset, State: b.State}
	if b.Limit != nil {
		if *b.Limit < 1 || *b.Limit > MaxNodeStatusLimit {
			return supervisor.StatusQuery{}, apierr.New(apierr.InvalidRequest, "limit %d: want 1 to %d tables a page", *b.Limit, MaxNodeStatusLimit)
		}
		q.Limit = *b.Limit
	}
	if err := q.Check(); err != nil {
		return supervisor.StatusQuery{}, err
	}
	return q, nil
}

// nodeStatus answers <prefix>.node.<node>.status with a page of the
// node's tables (failures first, then by name) and the counts of all of
// them, under the node reply bound.
func (s *Services) nodeStatus(ctx context.Context, r request) (any, error) {
	q, err := decodeNodeStatus(r.data)
	if err != nil {
		return nil, err
	}
	if r.reply == "" {
		return nil, nil
	}
	room := max(s.nodeReplyBound()-nodeReplyEnvelope, s.nodeReplyBound()/2)
	used := 0
	var encErr error
	q.Fit = func(st supervisor.TableStatus) bool {
		b, err := json.Marshal(st)
		if err != nil {
			encErr = err
			return false
		}
		used += len(b) + 1
		return used <= room
	}
	ns, err := s.b.NodeStatusPage(ctx, q)
	if err != nil {
		return nil, err
	}
	if encErr != nil {
		return nil, apierr.Wrap(apierr.Internal, encErr, "node %s: status: encode a table's status", s.node)
	}
	return ns, nil
}
