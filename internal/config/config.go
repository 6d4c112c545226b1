// Package config reads the supervisor's YAML configuration file strictly (an
// unknown key is an error naming the key and its line) and holds the settings
// that flags may override.
package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/custodian-dev/custodian/internal/supervisor"
)

// File is the supervisor's configuration. Every key is optional; the zero
// value of a key means "the default" (see Defaults).
type File struct {
	Data          string   `yaml:"data"`
	Node          string   `yaml:"node"`
	Prefix        string   `yaml:"prefix"`
	Tables        []string `yaml:"tables"`
	Demo          bool     `yaml:"demo"`
	Dashboard     string   `yaml:"dashboard"`
	AdminToken    string   `yaml:"admin_token"`
	NATS          NATS     `yaml:"nats"`
	Stream        Stream   `yaml:"stream"`
	Offsite       Offsite  `yaml:"offsite"`
	MaxBody       int      `yaml:"max_body"`
	NoSync        bool     `yaml:"no_sync"`
	MaxConcurrent int      `yaml:"max_concurrent"`
	QueueSize     int      `yaml:"queue_size"`
	// MaxOpenTables bounds the tables whose database is open at once
	// (default 256); IdleClose closes a table idle that long (default
	// 30s): it opens again on the next request.
	MaxOpenTables int           `yaml:"max_open_tables"`
	IdleClose     time.Duration `yaml:"idle_close"`
	// MemoryLimit is the Go runtime's soft memory limit in bytes
	// (default 1 GiB, what max_open_tables' default is sized for; -1: none;
	// the GOMEMLIMIT environment variable, when set, wins).
	MemoryLimit int64 `yaml:"memory_limit"`

	// Defaults is the maintenance policy of every table; Overrides sets
	// per-table values (a key left out keeps the default).
	Defaults  supervisor.Policy            `yaml:"defaults"`
	Overrides map[string]supervisor.Policy `yaml:"overrides"`
}

// NATS holds the connection settings; with URL empty the supervisor runs an
// embedded server listening on Listen.
type NATS struct {
	URL      string `yaml:"url"`
	Listen   string `yaml:"listen"`
	Creds    string `yaml:"creds"`
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	Token    string `yaml:"token"`
	CA       string `yaml:"ca"`
	Cert     string `yaml:"cert"`
	Key      string `yaml:"key"`
}

// Stream holds the limits of the CUSTODIAN_EVENTS stream and of the stats
// stream CUSTODIAN_STATS.
type Stream struct {
	Replicas   int           `yaml:"replicas"`
	MaxAge     time.Duration `yaml:"max_age"`
	MaxBytes   int64         `yaml:"max_bytes"`
	MaxMsgs    int64         `yaml:"max_msgs"`
	Duplicates time.Duration `yaml:"duplicates"`
	// StatsKeep is how many table.stats the stream CUSTODIAN_STATS keeps
	// per table (default 1,440); that stream takes the replicas, max age,
	// max bytes and duplicate window above.
	StatsKeep int64 `yaml:"stats_keep"`
}

// Offsite holds the off-site copies' settings: mode "on" or "off" (empty:
// on with a NATS URL, off with the embedded server) and the limits of the
// CUSTODIAN_JOURNAL stream (the bucket CUSTODIAN_BACKUPS is bounded by
// backup retention; both take stream.replicas).
type Offsite struct {
	Mode            string        `yaml:"mode"`
	JournalMaxAge   time.Duration `yaml:"journal_max_age"`
	JournalMaxBytes int64         `yaml:"journal_max_bytes"`
}

// Load reads path strictly.
func Load(path string) (File, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return File{}, fmt.Errorf("config %s: %w", path, err)
	}
	return Parse(path, b)
}

// Parse decodes b strictly; name is used in errors. A string that is not
// valid UTF-8 is an error.
func Parse(name string, b []byte) (File, error) {
	var f File
	if err := unmarshal(b, &f); err != nil {
		return File{}, fmt.Errorf("config %s: %s", name, err)
	}
	if err := checkText(reflect.ValueOf(f), ""); err != nil {
		return File{}, fmt.Errorf("config %s: %w", name, err)
	}
	return f, nil
}

// unmarshal decodes b strictly into f. The YAML decoder panics on some
// malformed input (e.g. "tables: !x\n0" in goccy/go-yaml v1.19.2): that is
// an error too, not a crash of whatever loads the file.
func unmarshal(b []byte, f *File) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("malformed YAML (the decoder failed: %v)", p)
		}
	}()
	if err := yaml.UnmarshalWithOptions(b, f, yaml.Strict(), yaml.DisallowUnknownField()); err != nil {
		return errors.New(yaml.FormatError(err, false, false))
	}
	return nil
}
