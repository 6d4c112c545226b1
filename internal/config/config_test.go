package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/supervisor"
)

func TestParseFull(t *testing.T) {
	src := `
data: /var/lib/custodian
node: n1
prefix: acme
tables: [users, orders]
dashboard: "off"
nats:
  url: nats://127.0.0.1:4222
  user: ops
  password: secret
stream:
  replicas: 3
  max_age: 720h
defaults:
  compact_every: 30m
  threshold: 0.3
overrides:
  users:
    backup_every: 1h
`
	f, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if f.Data != "/var/lib/custodian" || f.Node != "n1" || f.Prefix != "acme" || f.Dashboard != "off" {
		t.Fatalf("scalars: %+v", f)
	}
	if len(f.Tables) != 2 || f.Tables[1] != "orders" {
		t.Fatalf("tables: %v", f.Tables)
	}
	if f.NATS.URL != "nats://127.0.0.1:4222" || f.NATS.User != "ops" || f.NATS.Password != "secret" {
		t.Fatalf("nats: %+v", f.NATS)
	}
	if f.Stream.Replicas != 3 || f.Stream.MaxAge != 720*time.Hour {
		t.Fatalf("stream: %+v", f.Stream)
	}
	if f.Defaults.CompactEvery != 30*time.Minute || f.Defaults.Threshold != 0.3 {
		t.Fatalf("defaults: %+v", f.Defaults)
	}
	if f.Overrides["users"].BackupEvery != time.Hour {
		t.Fatalf("overrides: %+v", f.Overrides)
	}
}

func TestUnknownKeyNamesKeyAndLine(t *testing.T) {
	_, err := Parse("c.yaml", []byte("data: x\ndefaults:\n  compact_every: 1h\n  compact_evry: 2h\n"))
	if err == nil {
		t.Fatal("unknown key accepted")
	}
	msg := err.Error()
	if !strings.Contains(msg, "compact_evry") || !strings.Contains(msg, "[4:") || strings.Contains(msg, "\n") {
		t.Fatalf("error should name the key and line on one line: %q", msg)
	}
}

func TestBadValues(t *testing.T) {
	for name, src := range map[string]string{
		"duration": "defaults:\n  backup_every: soon\n",
		"type":     "max_body: lots\n",
		"list":     "tables: users\n",
		"syntax":   "data: [\n",
	} {
		if _, err := Parse(name, []byte(src)); err == nil {
			t.Errorf("%s: accepted %q", name, src)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("want not-exist, got %v", err)
	}
}

// A file the YAML decoder chokes on, or with a string that is not text,
// is an error naming the file (found by FuzzParse), not a panic.
func TestParseRefusesWhatTheDecoderCannotTake(t *testing.T) {
	for src, want := range map[string]string{
		"tables: !x\n0": "malformed YAML",
		"data: A\nnode: A\ntables: !000000\n000000000": "malformed YAML",
		"data: !!binary 00008\n":                       "data: not valid UTF-8",
		"tables: [a, !!binary 00008]\n":                "tables[1]: not valid UTF-8",
		"overrides:\n  !!binary 00008 : {}\n":          "overrides: a key is not valid UTF-8",
		"nats: {token: !!binary 00008}\n":              "nats.token: not valid UTF-8",
	} {
		_, err := Parse("bad.yaml", []byte(src))
		if err == nil || !strings.HasPrefix(err.Error(), "config bad.yaml: ") || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", src, err, want)
		}
	}
}

// The critical-table keys: critical is a pointer, so that an override's
// false is told apart from a key left out; on_unrecoverable takes degrade
// or stop, and anything else is refused when the config is validated.
func TestCriticalKeys(t *testing.T) {
	src := `
defaults:
  critical: true
  on_unrecoverable: stop
overrides:
  cache:
    critical: false
  users:
    on_unrecoverable: degrade
  orders:
    threshold: 0.5
`
	f, err := Parse("critical.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c := f.Defaults.Critical; c == nil || !*c || f.Defaults.OnUnrecoverable != supervisor.UnrecoverableStop {
		t.Fatalf("defaults: critical %v on_unrecoverable %q", c, f.Defaults.OnUnrecoverable)
	}
	if c := f.Overrides["cache"].Critical; c == nil || *c {
		t.Fatalf("overrides.cache: critical %v, want set to false", c)
	}
	if c := f.Overrides["users"].Critical; c != nil || f.Overrides["users"].OnUnrecoverable != supervisor.UnrecoverableDegrade {
		t.Fatalf("overrides.users: critical %v (want not set) on_unrecoverable %q", c, f.Overrides["users"].OnUnrecoverable)
	}
	if c := f.Overrides["orders"].Critical; c != nil || f.Overrides["orders"].OnUnrecoverable != "" {
		t.Fatalf("overrides.orders: critical %v on_unrecoverable %q, want neither set", c, f.Overrides["orders"].OnUnrecoverable)
	}
	cfg := supervisor.Config{Node: "n1", Defaults: f.Defaults, Tables: f.Overrides}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("valid critical keys refused: %v", err)
	}

	// Without the keys: not critical, degrade.
	f, err = Parse("plain.yaml", []byte("defaults:\n  threshold: 0.3\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Defaults.Critical != nil || f.Defaults.OnUnrecoverable != "" {
		t.Fatalf("keys left out: critical %v on_unrecoverable %q, want not set", f.Defaults.Critical, f.Defaults.OnUnrecoverable)
	}
	if d := supervisor.DefaultPolicy(); d.IsCritical() || d.OnUnrecoverable != supervisor.UnrecoverableDegrade {
		t.Fatalf("DefaultPolicy: critical %v on_unrecoverable %q, want false and degrade", d.IsCritical(), d.OnUnrecoverable)
	}

	for src, want := range map[string]string{
		"defaults:\n  on_unrecoverable: shutdown\n":                              `defaults: on_unrecoverable "shutdown": want degrade or stop`,
		"overrides:\n  users:\n    on_unrecoverable: STOP\n":                     `overrides.users: on_unrecoverable "STOP": want degrade or stop`,
		"overrides:\n  users:\n    critical: true\n    on_unrecoverable: halt\n": `overrides.users: on_unrecoverable "halt": want degrade or stop`,
	} {
		f, err := Parse("bad.yaml", []byte(src))
		if err != nil {
			t.Fatalf("%q: %v", src, err)
		}
		err = supervisor.Config{Node: "n1", Defaults: f.Defaults, Tables: f.Overrides}.Validate()
		if err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %q", src, err, want)
		}
	}
	if _, err := Parse("bad.yaml", []byte("defaults:\n  critical: maybe\n")); err == nil {
		t.Errorf("critical: maybe accepted")
	}
}

// TestDrillEvery: drill_every is a policy key in defaults and overrides.
func TestDrillEvery(t *testing.T) {
	f, err := Parse("t.yaml", []byte("defaults:\n  drill_every: 3h\noverrides:\n  users:\n    drill_every: -1s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Defaults.DrillEvery != 3*time.Hour || f.Overrides["users"].DrillEvery != -time.Second {
		t.Fatalf("drill_every: defaults %v, users %v", f.Defaults.DrillEvery, f.Overrides["users"].DrillEvery)
	}
}

// TestOffsiteSection: the off-site mode and the journal stream's limits.
func TestOffsiteSection(t *testing.T) {
	f, err := Parse("t.yaml", []byte("offsite:\n  mode: \"on\"\n  journal_max_age: 720h\n  journal_max_bytes: 1073741824\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Offsite.Mode != "on" || f.Offsite.JournalMaxAge != 720*time.Hour || f.Offsite.JournalMaxBytes != 1<<30 {
		t.Fatalf("offsite: %+v", f.Offsite)
	}
	if _, err := Parse("t.yaml", []byte("offsite:\n  bucket: x\n")); err == nil {
		t.Fatal("an unknown offsite key was accepted")
	}
}
