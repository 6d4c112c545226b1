// Package tables owns Custodian's LevelDB tables on disk: the live databases
// under <data>/tables, backups with manifests under <data>/backups, and
// damaged copies moved aside under <data>/quarantine. It knows nothing of
// NATS; the supervisor drives it and turns its results into events.
//
// Layout under the data directory:
//
//	tables/<table>/              the live goleveldb database
//	backups/<table>/<backup-id>/ a backup: a goleveldb database plus manifest.json
//	quarantine/<table>/<time>/   a damaged table, moved aside, never deleted
package tables
