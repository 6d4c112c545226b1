package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
