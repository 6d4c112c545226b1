package events

// Command verbs on <prefix>.cmd.<table>.<verb>.
const (
	VerbCompact = "compact"
	VerbBackup  = "backup"
	VerbVerify  = "verify"
	VerbRestore = "restore"
	VerbSalvage = "salvage"
	VerbStatus  = "status"
	VerbCreate  = "create" // node verb only
)

// TableVerbs lists the verbs of <prefix>.cmd.<table>.<verb>.
func TableVerbs() []string {
	return []string{VerbCompact, VerbBackup, VerbVerify, VerbRestore, VerbSalvage, VerbStatus}
}

// NodeVerbs lists the verbs of <prefix>.node.<node>.<verb>.
func NodeVerbs() []string {
	return []string{VerbStatus, VerbCreate, VerbCompact, VerbBackup, VerbVerify}
}

// CommandBody is the optional JSON body of a command.
type CommandBody struct {
	Force    bool   `json:"force,omitempty"`
	Mode     string `json:"mode,omitempty"`
	Wait     bool   `json:"wait,omitempty"`
	BackupID string `json:"backup_id,omitempty"`
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
