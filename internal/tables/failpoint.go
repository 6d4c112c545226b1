package tables

// Failpoint names, one per crash point of rewrite compaction, backup,
// restore and salvage. Options.Failpoint is called with each name as the work passes it.
const (
	FPRewriteBeforeCopy   = "rewrite.before-copy"   // tracking on, snapshot taken, nothing written
	FPRewriteAfterCopy    = "rewrite.after-copy"    // snapshot copied into the temp dir
	FPRewriteAfterVerify  = "rewrite.after-verify"  // copy reopened and verified against the snapshot digest
	FPRewriteAfterCatchUp = "rewrite.after-catchup" // writes that arrived meanwhile applied
	FPRewritePaused       = "rewrite.paused"        // writes paused, last delta applied, new db closed and synced
	FPRewriteAfterAside   = "rewrite.after-aside"   // old dir renamed to tables/.old-<t>, new not yet in place
	FPRewriteAfterSwap    = "rewrite.after-swap"    // new dir in place, old dir not yet deleted
	FPRewriteDone         = "rewrite.done"          // reopened, old dir deleted

	FPBackupBeforeCopy    = "backup.before-copy"    // snapshot taken
	FPBackupAfterCopy     = "backup.after-copy"     // snapshot copied into backups/<t>/.tmp-<id>, synced
	FPBackupAfterManifest = "backup.after-manifest" // manifest.json written in the temp dir
	FPBackupAfterRename   = "backup.after-rename"   // renamed to backups/<t>/<id>
	FPBackupAfterVerify   = "backup.after-verify"   // verified

	FPRestoreBeforeCopy      = "restore.before-copy"      // nothing done yet
	FPRestoreAfterCopy       = "restore.after-copy"       // backup copied into a temp dir
	FPRestoreBeforeReplay    = "restore.before-replay"    // backup copied and verified, journal not replayed
	FPJournalBeforeKeep      = "journal.before-keep"      // goleveldb removes a flushed journal: not yet in the archive
	FPJournalAfterKeep       = "journal.after-keep"       // the journal is in the archive and still in the live directory
	FPDrillAfterCopy         = "drill.after-copy"         // backup copied into the drill's scratch directory
	FPDrillAfterReplay       = "drill.after-replay"       // journal replayed into the scratch copy
	FPRestoreAfterReplay     = "restore.after-replay"     // journal replayed into the copy
	FPRestoreAfterVerify     = "restore.after-verify"     // copy verified and open/close tested
	FPRestoreReady           = "restore.ready"            // copy renamed to tables/.ready-<t>: the commit point
	FPRestoreAfterQuarantine = "restore.after-quarantine" // live dir moved to quarantine
	FPRestoreAfterRename     = "restore.after-rename"     // restored dir in tables/<t>

	FPSalvageAfterCopy       = "salvage.after-copy"       // quarantined copy copied into a temp dir
	FPSalvageAfterRecover    = "salvage.after-recover"    // RecoverFile done, records copied into a fresh db
	FPSalvageReady           = "salvage.ready"            // renamed to tables/.ready-<t>: the commit point
	FPSalvageAfterQuarantine = "salvage.after-quarantine" // live dir (if any) moved to quarantine
	FPSalvageAfterRename     = "salvage.after-rename"     // salvaged dir in tables/<t>
)

// FailpointNames lists every failpoint, in the order the work passes them.
func FailpointNames() []string {
	return []string{
		FPRewriteBeforeCopy, FPRewriteAfterCopy, FPRewriteAfterVerify, FPRewriteAfterCatchUp,
		FPRewritePaused, FPRewriteAfterAside, FPRewriteAfterSwap, FPRewriteDone,
		FPBackupBeforeCopy, FPBackupAfterCopy, FPBackupAfterManifest, FPBackupAfterRename, FPBackupAfterVerify,
		FPJournalBeforeKeep, FPJournalAfterKeep,
		FPDrillAfterCopy, FPDrillAfterReplay,
		FPRestoreBeforeCopy, FPRestoreAfterCopy, FPRestoreBeforeReplay, FPRestoreAfterReplay, FPRestoreAfterVerify, FPRestoreReady,
		FPRestoreAfterQuarantine, FPRestoreAfterRename,
		FPSalvageAfterCopy, FPSalvageAfterRecover, FPSalvageReady, FPSalvageAfterQuarantine, FPSalvageAfterRename,
	}
}

func (s *Store) failpoint(name string) {
	if s.opts.Failpoint != nil && name != "" {
		s.opts.Failpoint(name)
	}
}
