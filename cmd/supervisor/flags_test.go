package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/dashboard"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/supervisor"
	"github.com/custodian-dev/custodian/internal/tables"
)

func writeConfig(t *testing.T, src string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "custodian.yaml")
	if err := os.WriteFile(p, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFlagsOverrideConfig(t *testing.T) {
	t.Setenv("NATS_URL", "")
	cfg := writeConfig(t, "data: /from/file\nnode: filenode\ntables: [a, b]\ndefaults:\n  threshold: 0.4\n")
	s, err := parseFlags([]string{"--config", cfg, "--node", "flagnode", "--tables", "c"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Data != "/from/file" {
		t.Errorf("data from file: got %q", s.Data)
	}
	if s.Node != "flagnode" {
		t.Errorf("flag must override file: node %q", s.Node)
	}
	if len(s.Tables) != 1 || s.Tables[0] != "c" {
		t.Errorf("tables flag must override file: %v", s.Tables)
	}
	if s.Defaults.Threshold != 0.4 {
		t.Errorf("defaults from file: %+v", s.Defaults)
	}
}

func TestDemoAddsTableAndShortSchedules(t *testing.T) {
	t.Setenv("NATS_URL", "")
	s, err := parseFlags([]string{"--demo", "--tables", "users"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s.Tables, "demo") || !slices.Contains(s.Tables, "users") {
		t.Fatalf("tables: %v", s.Tables)
	}
	p := s.Overrides["demo"]
	if p.CompactEvery == 0 || p.CompactEvery > 2*time.Minute || p.BackupEvery > 2*time.Minute {
		t.Fatalf("demo schedules should be short: %+v", p)
	}
}

func TestBadFlagsAndConfig(t *testing.T) {
	t.Setenv("NATS_URL", "")
	cases := map[string][]string{
		"unknown flag":      {"--bogus"},
		"bad table":         {"--tables", "../etc"},
		"upper table":       {"--tables", "Users"},
		"bad node":          {"--node", "a.b"},
		"bad prefix":        {"--prefix", "a.*"},
		"bad replicas":      {"--replicas", "0"},
		"stray argument":    {"extra"},
		"unknown key":       {"--config", writeConfig(t, "dta: x\n")},
		"short dup window":  {"--config", writeConfig(t, "stream:\n  duplicates: 30s\n")},
		"bad stats_keep":    {"--config", writeConfig(t, "stream:\n  stats_keep: -1\n")},
		"bad mode":          {"--config", writeConfig(t, "defaults:\n  mode: bogus\n")},
		"bad unrecoverable": {"--config", writeConfig(t, "overrides:\n  users:\n    on_unrecoverable: halt\n")},
		"bad threshold":     {"--config", writeConfig(t, "overrides:\n  users:\n    threshold: 1.5\n")},
		"bad override":      {"--config", writeConfig(t, "overrides:\n  Bad.Name:\n    threshold: 0.5\n")},
		"missing config":    {"--config", "/nonexistent/custodian.yaml"},
		"cert without key":  {"--nats", "nats://127.0.0.1:1", "--nats-cert", "/etc/hostname"},
		"no dash streams":   {"--dashboard-max-streams", "0"},
		"no dash timeout":   {"--dashboard-write-timeout", "0s"},
	}
	for name, args := range cases {
		_, err := parseFlags(args, &bytes.Buffer{})
		if err == nil {
			t.Errorf("%s: accepted %v", name, args)
			continue
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error should be one line: %q", name, err)
		}
	}
}

func TestHelpListsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	_, err := parseFlags([]string{"--help"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("want ErrHelp, got %v", err)
	}
	for _, f := range []string{"--data", "--node", "--config", "--tables", "--demo", "--nats", "--nats-listen",
		"--nats-creds", "--nats-user", "--nats-password", "--nats-token", "--nats-ca", "--nats-cert", "--nats-key",
		"--prefix", "--dashboard", "--admin-token", "--replicas", "--no-sync", "--max-body",
		"--dashboard-max-streams", "--dashboard-max-streams-per-addr", "--dashboard-read-timeout",
		"--dashboard-write-timeout", "--dashboard-idle-timeout"} {
		name := strings.TrimPrefix(f, "--")
		if !strings.Contains(out.String(), "-"+name+" ") && !strings.Contains(out.String(), "-"+name+"\n") {
			t.Errorf("help lacks %s", f)
		}
	}
}

func TestNoSyncFromFlagOrConfig(t *testing.T) {
	t.Setenv("NATS_URL", "")
	s, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil || s.NoSync {
		t.Fatalf("default must fsync every write: %v %v", s.NoSync, err)
	}
	s, err = parseFlags([]string{"--config", writeConfig(t, "no_sync: true\n")}, &bytes.Buffer{})
	if err != nil || !s.NoSync {
		t.Fatalf("config no_sync: %v %v", s.NoSync, err)
	}
	s, err = parseFlags([]string{"--config", writeConfig(t, "no_sync: true\n"), "--no-sync=false"}, &bytes.Buffer{})
	if err != nil || s.NoSync {
		t.Fatalf("the flag must override the file: %v %v", s.NoSync, err)
	}
}

func TestDashboardLimitsFromFlags(t *testing.T) {
	t.Setenv("NATS_URL", "")
	s, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil || s.DashLimits.MaxStreams != dashboard.DefaultMaxStreams || s.DashLimits.ReadTimeout != dashboard.DefaultReadTimeout {
		t.Fatalf("default dashboard limits: %+v %v", s.DashLimits, err)
	}
	s, err = parseFlags([]string{"--dashboard-max-streams", "5", "--dashboard-max-streams-per-addr", "2", "--dashboard-read-timeout", "3s",
		"--dashboard-write-timeout", "4s", "--dashboard-idle-timeout", "5s"}, &bytes.Buffer{})
	want := dashboard.Limits{MaxStreams: 5, MaxStreamsPerAddr: 2, ReadTimeout: 3 * time.Second, WriteTimeout: 4 * time.Second, IdleTimeout: 5 * time.Second}
	if err != nil || s.DashLimits != want {
		t.Fatalf("dashboard limits %+v %v, want %+v", s.DashLimits, err, want)
	}
}

// The config's critical keys reach the supervisor's policy; a bad
// on_unrecoverable is refused with a line that says what is wanted.
func TestCriticalKeysFromConfig(t *testing.T) {
	t.Setenv("NATS_URL", "")
	cfg := writeConfig(t, "defaults:\n  critical: true\n  on_unrecoverable: stop\noverrides:\n  cache:\n    critical: false\n")
	s, err := parseFlags([]string{"--config", cfg, "--data", t.TempDir()}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	sup, err := supervisor.Open(s.Data, tables.Options{}, nopEmitter{}, s.supervisorConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer sup.Close()
	if p := sup.Policy("users"); !p.IsCritical() || p.OnUnrecoverable != supervisor.UnrecoverableStop {
		t.Errorf("users: critical %v on_unrecoverable %q, want true and stop", p.IsCritical(), p.OnUnrecoverable)
	}
	if p := sup.Policy("cache"); p.IsCritical() {
		t.Errorf("cache: critical, want the override's false")
	}

	bad := writeConfig(t, "overrides:\n  users:\n    on_unrecoverable: halt\n")
	_, err = parseFlags([]string{"--config", bad}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `overrides.users: on_unrecoverable "halt": want degrade or stop`) {
		t.Errorf("bad on_unrecoverable: %v", err)
	}
}

// nopEmitter accepts every event.
type nopEmitter struct{}

func (nopEmitter) Emit(context.Context, events.Event) error { return nil }

func TestStatsKeepFromTheConfig(t *testing.T) {
	t.Setenv("NATS_URL", "")
	s, err := parseFlags([]string{"--config", writeConfig(t, "stream:\n  stats_keep: 60\n  replicas: 1\n")}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := s.streamConfig().StatsJetStreamConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxMsgsPerSubject != 60 || cfg.Name != "CUSTODIAN_STATS" {
		t.Fatalf("stats stream config %s keeps %d per subject, want 60", cfg.Name, cfg.MaxMsgsPerSubject)
	}
	s, err = parseFlags(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg, _ := s.streamConfig().StatsJetStreamConfig(); cfg.MaxMsgsPerSubject != 1440 {
		t.Fatalf("default stats_keep %d, want 1440", cfg.MaxMsgsPerSubject)
	}
}
