package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/custodian-dev/custodian/internal/bus"
	"github.com/custodian-dev/custodian/internal/config"
	"github.com/custodian-dev/custodian/internal/dashboard"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/notifier"
	"github.com/custodian-dev/custodian/internal/supervisor"
)

// settings is everything the supervisor runs with: defaults, then the config
// file, then the flags given on the command line.
type settings struct {
	Data          string
	Node          string
	Prefix        string
	Tables        []string
	Demo          bool
	Dashboard     string // "off" disables
	DashboardSet  bool   // --dashboard given (runs it even with --nats)
	AdminToken    string
	DashLimits    dashboard.Limits // the in-process dashboard's caps and timeouts
	NATSListen    string
	Conn          bus.ConnOptions
	Stream        config.Stream
	MaxBody       int
	NoSync        bool           // acknowledge writes once written to the OS, not fsynced
	Offsite       string         // "on", "off" or "" (on with --nats, off embedded)
	OffsiteLimits config.Offsite // the journal stream's limits (config file)
	MaxConcurrent int
	QueueSize     int
	MaxOpenTables int
	MemoryLimit   int64
	IdleClose     time.Duration
	Defaults      supervisor.Policy
	Overrides     map[string]supervisor.Policy
	Notifier      notifier.Config // in-process notifier, run when a sink is given
}

const usageHead = `Usage: supervisor [flags]
       supervisor audit [--nats URL] [--since 24h|RFC3339] [--table T] [--type PREFIX] [--node N]
       supervisor cmd [--nats URL] [--force] [--mode M] [--backup-id ID] [--timeout D] TABLE VERB
       supervisor journal [--data DIR] [--from POSITION] TABLE
       supervisor backups [--data DIR] [--node N] [--nats URL] [--json] TABLE

Owns the LevelDB tables under --data, serves them over NATS and keeps them
healthy. With no --nats URL it starts an embedded nats-server with JetStream,
the dashboard and (with a sink flag) the notifier: one command, a whole system.

Flags:
`

// parseFlags parses args (without the program name). It returns flag.ErrHelp
// after printing the help to out when asked.
func parseFlags(args []string, out io.Writer) (settings, error) {
	fs := flag.NewFlagSet("supervisor", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	host, _ := os.Hostname()

	var s settings
	var tablesFlag string
	var cfgPath string
	fs.StringVar(&cfgPath, "config", "", "YAML config file (strict: an unknown key is an error); flags override it")
	fs.StringVar(&s.Data, "data", "./data", "data directory (tables/, backups/, quarantine/, outbox/, nats/)")
	fs.StringVar(&s.Node, "node", events.NodeFromHost(host), "node id (one subject token)")
	fs.StringVar(&s.Prefix, "prefix", events.DefaultPrefix, "subject prefix")
	fs.StringVar(&tablesFlag, "tables", "", "comma-separated tables to open or create")
	fs.BoolVar(&s.Demo, "demo", false, "create table demo and keep writing to it, with short maintenance schedules")
	fs.StringVar(&s.Dashboard, "dashboard", "127.0.0.1:8080", "in-process dashboard address with the embedded server (off disables)")
	fs.StringVar(&s.AdminToken, "admin-token", "", "token the dashboard's actions need (Authorization: Bearer)")
	s.DashLimits.Register(fs, "dashboard-")
	fs.StringVar(&s.NATSListen, "nats-listen", "127.0.0.1:4222", "client address of the embedded nats-server (without --nats)")
	fs.IntVar(&s.Stream.Replicas, "replicas", 1, "replicas of the CUSTODIAN_EVENTS stream (3 on a JetStream cluster)")
	fs.IntVar(&s.MaxBody, "max-body", bus.DefaultMaxBody, "largest request body in bytes (larger: too_large)")
	fs.StringVar(&s.Offsite, "offsite", "", "on: keep every backup in the Object Store bucket CUSTODIAN_BACKUPS and ship every journal record to the stream CUSTODIAN_JOURNAL, so that a node started on an empty --data gets its tables back; off: local copies only (default: on with --nats, off with the embedded server)")
	fs.BoolVar(&s.NoSync, "no-sync", false, "acknowledge writes once written to the OS instead of fsynced: they survive a crash of the process, not a power loss (like NATS JetStream's default)")
	s.Conn.Register(fs)
	s.Notifier.Register(fs)
	fs.Usage = func() {}

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(out, usageHead)
			fs.SetOutput(out)
			fs.PrintDefaults()
		}
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}

	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if cfgPath != "" {
		f, err := config.Load(cfgPath)
		if err != nil {
			return s, err
		}
		s.apply(f, set)
	}
	s.DashboardSet = set["dashboard"]
	if set["tables"] {
		s.Tables = splitList(tablesFlag)
	}
	s.defaults()
	return s, s.validate()
}

// apply takes the config file's values for every setting no flag gave.
func (s *settings) apply(f config.File, set map[string]bool) {
	str := func(flagName string, dst *string, v string) {
		if v != "" && !set[flagName] {
			*dst = v
		}
	}
	str("data", &s.Data, f.Data)
	str("node", &s.Node, f.Node)
	str("prefix", &s.Prefix, f.Prefix)
	str("dashboard", &s.Dashboard, f.Dashboard)
	str("admin-token", &s.AdminToken, f.AdminToken)
	str("nats-listen", &s.NATSListen, f.NATS.Listen)
	str("nats", &s.Conn.URL, f.NATS.URL)
	str("nats-creds", &s.Conn.Creds, f.NATS.Creds)
	str("nats-user", &s.Conn.User, f.NATS.User)
	str("nats-password", &s.Conn.Password, f.NATS.Password)
	str("nats-token", &s.Conn.Token, f.NATS.Token)
	str("nats-ca", &s.Conn.CA, f.NATS.CA)
	str("nats-cert", &s.Conn.Cert, f.NATS.Cert)
	str("nats-key", &s.Conn.Key, f.NATS.Key)
	str("offsite", &s.Offsite, f.Offsite.Mode)
	s.OffsiteLimits = f.Offsite
	if f.NoSync && !set["no-sync"] {
		s.NoSync = true
	}
	if f.Demo && !set["demo"] {
		s.Demo = true
	}
	if len(f.Tables) > 0 {
		s.Tables = f.Tables
	}
	replicas := s.Stream.Replicas
	s.Stream = f.Stream
	if set["replicas"] || f.Stream.Replicas == 0 {
		s.Stream.Replicas = replicas
	}
	if f.MaxBody > 0 && !set["max-body"] {
		s.MaxBody = f.MaxBody
	}
	s.MaxConcurrent = f.MaxConcurrent
	s.QueueSize = f.QueueSize
	s.MaxOpenTables = f.MaxOpenTables
	s.MemoryLimit = f.MemoryLimit
	s.IdleClose = f.IdleClose
	s.Defaults = f.Defaults
	s.Overrides = f.Overrides
}

// defaults fills what neither file nor flags set. With --demo the demo table
// gets short schedules so that every path shows within a minute or two.
func (s *settings) defaults() {
	if s.Demo {
		if s.Overrides == nil {
			s.Overrides = map[string]supervisor.Policy{}
		}
		p := s.Overrides["demo"]
		p.CompactEvery = cmp.Or(p.CompactEvery, 30*time.Second)
		p.BackupEvery = cmp.Or(p.BackupEvery, 60*time.Second)
		p.VerifyEvery = cmp.Or(p.VerifyEvery, 50*time.Second)
		p.DrillEvery = cmp.Or(p.DrillEvery, 90*time.Second)
		p.StatsEvery = cmp.Or(p.StatsEvery, 5*time.Second)
		p.RetryDelay = cmp.Or(p.RetryDelay, 5*time.Second)
		s.Overrides["demo"] = p
		if !slices.Contains(s.Tables, "demo") {
			s.Tables = append(s.Tables, "demo")
		}
	}
}

func (s *settings) validate() error {
	if !events.ValidNode(s.Node) {
		return fmt.Errorf("--node %q: must be one subject token: letters, digits, '-' or '_', at most 64", s.Node)
	}
	if !events.ValidPrefix(s.Prefix) {
		return fmt.Errorf("--prefix %q: must be subject tokens without wildcards", s.Prefix)
	}
	if s.Offsite != "" && s.Offsite != "on" && s.Offsite != "off" {
		return fmt.Errorf("--offsite %q: want on or off", s.Offsite)
	}
	for _, t := range s.Tables {
		if !events.ValidTable(t) {
			return fmt.Errorf("table %q: invalid_table: a name matches ^[a-z0-9][a-z0-9_-]{0,63}$", t)
		}
	}
	if err := s.supervisorConfig().Validate(); err != nil {
		return fmt.Errorf("config %w", err)
	}
	if s.Data == "" {
		return errors.New("--data: must not be empty")
	}
	if s.Stream.Replicas < 1 || s.Stream.Replicas > 5 {
		return fmt.Errorf("--replicas %d: must be 1 to 5", s.Stream.Replicas)
	}
	if _, err := s.streamConfig().JetStreamConfig(); err != nil {
		return fmt.Errorf("config stream: %w", err)
	}
	if err := s.DashLimits.Validate("dashboard-"); err != nil {
		return err
	}
	if s.MaxBody < 1024 {
		return fmt.Errorf("--max-body %d: must be at least 1024", s.MaxBody)
	}
	if s.Notifier.HasSinks() {
		if err := s.Notifier.Validate(); err != nil {
			return err
		}
	}
	if s.Conn.URL != "" {
		return s.Conn.Validate()
	}
	return nil
}

// supervisorConfig is the policy configuration the settings ask for.
func (s settings) supervisorConfig() supervisor.Config {
	return supervisor.Config{
		Node: s.Node, Defaults: s.Defaults, Tables: s.Overrides,
		MaxConcurrent: s.MaxConcurrent, QueueSize: s.QueueSize,
		MaxOpenTables: s.MaxOpenTables, IdleClose: s.IdleClose,
	}
}

// streamConfig is the configuration of CUSTODIAN_EVENTS and CUSTODIAN_STATS
// the settings ask for.
func (s settings) streamConfig() bus.StreamConfig {
	return bus.StreamConfig{
		Prefix: s.Prefix, Replicas: s.Stream.Replicas, MaxAge: s.Stream.MaxAge,
		MaxBytes: s.Stream.MaxBytes, MaxMsgs: s.Stream.MaxMsgs, Duplicates: s.Stream.Duplicates,
		StatsKeep: s.Stream.StatsKeep,
	}
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
