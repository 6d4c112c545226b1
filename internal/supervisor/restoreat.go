package supervisor

import (
	"fmt"
	"time"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/tables"
)

// parseAt parses a restore's "at" (RFC 3339; "" is no time).
func parseAt(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, apierr.New(apierr.InvalidRequest, "at %q: want an RFC 3339 time such as 2026-12-04T18:30:00Z", clip(s))
	}
	return at.UTC(), nil
}

// inHistoryFirst orders the backups (newest first) for a restore: those in
// the history of the table's current state first (backup plus journal is
// the table), then the others (a restore to an earlier time or a salvage
// left them out: served alone, as a last resort, the loss reported). With
// at, only the backups in the history taken at or before it are kept.
func inHistoryFirst(t *tables.Table, bs []tables.Manifest, at time.Time) ([]tables.Manifest, error) {
	var in, out []tables.Manifest
	for _, m := range bs {
		ok, err := t.InHistory(m)
		if err != nil {
			// The history cannot be read: the backups in time order
			// (taken at or before at), each restore reporting what it
			// could not replay.
			var all []tables.Manifest
			for _, m := range bs {
				if at.IsZero() || !m.Created.After(at) {
					all = append(all, m)
				}
			}
			return all, fmt.Errorf("backup %s: %w", m.ID, err)
		}
		switch {
		case ok && (at.IsZero() || !m.Created.After(at)):
			in = append(in, m)
		case !ok && at.IsZero():
			out = append(out, m)
		}
	}
	return append(in, out...), nil
}
