package events

// Command verbs on <prefix>.cmd.<table>.<verb>.
const (
	VerbCompact = "compact"
	VerbBackup  = "backup"
	VerbVerify  = "verify"
	VerbRestore = "restore"
	VerbSalvage = "salvage"
	VerbStatus  = "status"
	VerbDrill   = "drill"
	VerbCreate  = "create" // node verb only
)

// TableVerbs lists the verbs of <prefix>.cmd.<table>.<verb>.
func TableVerbs() []string {
	return []string{VerbCompact, VerbBackup, VerbVerify, VerbRestore, VerbSalvage, VerbStatus, VerbDrill}
}

// NodeVerbs lists the verbs of <prefix>.node.<node>.<verb>.
func NodeVerbs() []string {
	return []string{VerbStatus, VerbCreate, VerbCompact, VerbBackup, VerbVerify, VerbDrill}
}

// CommandBody is the optional JSON body of a command.
type CommandBody struct {
	Force    bool   `json:"force,omitempty"`
	Mode     string `json:"mode,omitempty"`
	Wait     bool   `json:"wait,omitempty"`
	BackupID string `json:"backup_id,omitempty"`
	// At (restore only, RFC 3339) restores the table to its state as of
	// that time: the newest backup at or before it plus the journal up to
	// it.
	At string `json:"at,omitempty"`
}

// CommandReply answers a command request.
type CommandReply struct {
	CommandID string `json:"command_id"`
	Accepted  bool   `json:"accepted"`
	Table     string `json:"table"`
	Verb      string `json:"verb"`
	Result    string `json:"result,omitempty"`
	Event     *Event `json:"event,omitempty"`
}
