package main

import (
	"fmt"
	"syscall"

	"github.com/custodian-dev/custodian/internal/supervisor"
	"github.com/custodian-dev/custodian/internal/tables"
)

// fdsPerOpenTable are the files an open table holds besides its table
// files (LOCK, LOG, the journal, the MANIFEST); the table files are in the
// store's shared cache (tables.DefaultOpenFiles).
const fdsPerOpenTable = 4

// fdsOther leave room for NATS, the dashboard, backups and restores.
const fdsOther = 256

// checkFileLimit refuses to start when the process may not open the files
// max_open_tables asks for (Go raises the soft limit to the hard one at
// start: this is the hard one), rather than failing opens with "too many
// open files" later.
func checkFileLimit(maxOpen int) error {
	if maxOpen <= 0 {
		maxOpen = supervisor.DefaultMaxOpenTables
	}
	need := uint64(maxOpen*fdsPerOpenTable + tables.DefaultOpenFiles + fdsOther)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("open files limit: %w", err)
	}
	if lim.Cur < need {
		return fmt.Errorf("max_open_tables %d needs up to %d open files, the limit is %d: raise it (ulimit -n) or lower max_open_tables",
			maxOpen, need, lim.Cur)
	}
	return nil
}
