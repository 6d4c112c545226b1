package bus

import (
	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
)

// cmdBody is the request form of events.CommandBody: the pointer tells a
// backup_id left out (restore the newest good backup) from an empty one
// (an empty shell variable, refused).
type cmdBody struct {
	Force    bool    `json:"force"`
	Mode     string  `json:"mode"`
	Wait     bool    `json:"wait"`
	BackupID *string `json:"backup_id"`
	At       *string `json:"at"`
}

// decodeCommand decodes the optional body of a command (an empty body is
// {}).
func decodeCommand(body []byte) (events.CommandBody, error) {
	var b cmdBody
	if err := decodeStrict(body, &b, true); err != nil {
		return events.CommandBody{}, err
	}
	cb := events.CommandBody{Force: b.Force, Mode: b.Mode, Wait: b.Wait}
	if b.BackupID != nil {
		if *b.BackupID == "" {
			return events.CommandBody{}, apierr.New(apierr.InvalidRequest, `"backup_id" is empty: leave it out to restore the newest good backup`)
		}
		cb.BackupID = *b.BackupID
	}
	if b.At != nil {
		if *b.At == "" {
			return events.CommandBody{}, apierr.New(apierr.InvalidRequest, `"at" is empty: leave it out to restore every write, or give an RFC 3339 time`)
		}
		cb.At = *b.At
	}
	return cb, nil
}

// createBody is the body of node create.
type createBody struct {
	Table *string `json:"table"`
	Wait  bool    `json:"wait,omitempty"`
}

// decodeCreate decodes the body of node create and returns the table name
// (checked by the caller).
func decodeCreate(body []byte) (string, error) {
	var b createBody
	if err := decodeStrict(body, &b, false); err != nil {
		return "", err
	}
	if b.Table == nil {
		return "", missing("table")
	}
	return *b.Table, nil
}
