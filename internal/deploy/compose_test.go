package deploy

import (
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/nats-io/nats-server/v2/server"
)

// custodianBinaries are the services built from the repository's Dockerfile,
// by the name of their binary.
var custodianBinaries = []string{"supervisor", "dashboard", "notifier"}

// probePath is where the Dockerfile puts the health-check probe.
const probePath = "/usr/local/bin/custodian-probe"

// loadCompose loads compose.yaml as `docker compose --profile '*' config`
// would, with no variables from the environment (the defaults apply).
func loadCompose(t *testing.T) *types.Project {
	return loadComposeFiles(t, nil, "compose.yaml")
}

// loadComposeFiles loads compose files (relative to the repository root,
// later ones overriding earlier ones) with env as the only variables.
func loadComposeFiles(t *testing.T, env []string, files ...string) *types.Project {
	t.Helper()
	p, err := composeProject(repoRoot(t), env, files...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func composeProject(root string, env []string, files ...string) (*types.Project, error) {
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join(root, f))
	}
	if env == nil {
		env = []string{}
	}
	opts, err := cli.NewProjectOptions(
		paths,
		cli.WithWorkingDirectory(filepath.Dir(paths[0])), // as docker compose -f does
		cli.WithProfiles([]string{"*"}),
		cli.WithEnv(env),
	)
	if err != nil {
		return nil, fmt.Errorf("compose options: %w", err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", strings.Join(files, " + "), err)
	}
	return p, nil
}

// flagLine matches a flag in Go's flag.PrintDefaults output: "  -name type"
// (no type: a boolean flag).
var flagLine = regexp.MustCompile(`^  -([A-Za-z0-9][A-Za-z0-9_-]*)(?: (\S+))?`)

// helpFlags parses a binary's --help output into its flags (true: boolean).
func helpFlags(help string) map[string]bool {
	flags := map[string]bool{}
	for _, line := range strings.Split(help, "\n") {
		if m := flagLine.FindStringSubmatch(line); m != nil {
			flags[m[1]] = m[2] == ""
		}
	}
	return flags
}

// parsedArgs is a command line as flag name → values, in order.
type parsedArgs struct {
	values     map[string][]string
	positional []string
	unknown    []string
}

func (a parsedArgs) last(name string) (string, bool) {
	v := a.values[name]
	if len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

// parseArgs splits args the way Go's flag package does, given the known flags.
func parseArgs(args []string, known map[string]bool) parsedArgs {
	p := parsedArgs{values: map[string][]string{}}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			p.positional = append(p.positional, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			p.positional = append(p.positional, args[i:]...)
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		isBool, ok := known[name]
		if !ok {
			p.unknown = append(p.unknown, name)
			continue
		}
		if !hasValue {
			if isBool {
				value = "true"
			} else if i+1 < len(args) {
				i++
				value = args[i]
			}
		}
		p.values[name] = append(p.values[name], value)
	}
	return p
}

func TestComposeServicesUseOnlyFlagsTheirBinariesAccept(t *testing.T) {
	checkServicesFlags(t, loadCompose(t))
}

// natsServers are the services that run the official nats image, sorted.
func natsServers(p *types.Project) []string {
	var out []string
	for name, svc := range p.Services {
		if strings.HasPrefix(svc.Image, "nats:") {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// natsURLs is the --nats value the Custodian services of p must use: every
// nats service's client port.
func natsURLs(p *types.Project) string {
	var urls []string
	for _, n := range natsServers(p) {
		urls = append(urls, "nats://"+n+":4222")
	}
	return strings.Join(urls, ",")
}

// custodianServices maps each service built from the Dockerfile to its
// binary (the base name of its entrypoint).
func custodianServices(p *types.Project) map[string]string {
	out := map[string]string{}
	for name, svc := range p.Services {
		if svc.Build != nil && len(svc.Entrypoint) > 0 {
			out[name] = path.Base(svc.Entrypoint[0])
		}
	}
	return out
}

// checkServicesFlags checks every Custodian service of p against its
// binary: entrypoint, build arg, flags, NATS URL, dependency, health check.
func checkServicesFlags(t *testing.T, p *types.Project) {
	services := custodianServices(p)
	for _, b := range custodianBinaries {
		found := false
		for _, sb := range services {
			found = found || sb == b
		}
		if !found {
			t.Errorf("compose project has no service running %s", b)
		}
	}
	wantURL := natsURLs(p)
	servers := natsServers(p)
	if len(servers) == 0 {
		t.Fatal("compose project has no nats service")
	}
	names := slices.Sorted(maps.Keys(services))
	for _, name := range names {
		svc := p.Services[name]
		t.Run(name, func(t *testing.T) {
			if len(svc.Entrypoint) != 1 {
				t.Fatalf("entrypoint %q: want exactly the binary's path", svc.Entrypoint)
			}
			binName := path.Base(svc.Entrypoint[0])
			if svc.Entrypoint[0] != "/usr/local/bin/"+binName || !slices.Contains(custodianBinaries, binName) {
				t.Fatalf("entrypoint %q: want /usr/local/bin/<supervisor|dashboard|notifier>", svc.Entrypoint[0])
			}
			if svc.Build == nil || svc.Build.Context != repoRoot(t) {
				t.Fatalf("build: want the repository root as context, got %+v", svc.Build)
			}
			if arg := svc.Build.Args["BINARIES"]; arg == nil || !slices.Contains(strings.Fields(*arg), binName) {
				t.Errorf("build arg BINARIES=%v does not include %s", arg, binName)
			}
			bin := buildBinary(t, "./cmd/"+binName)
			help, code := runBinary(t, bin, "--help")
			if code != 0 {
				t.Errorf("%s --help: exit %d, want 0\n%s", binName, code, help)
			}
			known := helpFlags(help)
			if len(known) < 3 {
				t.Fatalf("%s --help lists %d flags; output:\n%s", binName, len(known), help)
			}
			args := parseArgs(svc.Command, known)
			if len(args.unknown) > 0 {
				t.Errorf("%s: command %q uses flags %q that %s --help does not list", name, svc.Command, args.unknown, binName)
			}
			if len(args.positional) > 0 {
				t.Errorf("%s: command %q has positional arguments %q", name, svc.Command, args.positional)
			}
			// The binary's own parser must accept the whole command line:
			// flags are parsed in order, so a trailing --help stops right
			// after every flag of the command has been accepted.
			out, code := runBinary(t, bin, append(slices.Clone([]string(svc.Command)), "--help")...)
			if code != 0 {
				t.Errorf("%s %s --help: exit %d (a flag of the command is refused):\n%s", binName, strings.Join(svc.Command, " "), code, out)
			}
			if u, ok := args.last("nats"); !ok || u != wantURL {
				t.Errorf("%s: --nats %q, want %s", name, u, wantURL)
			}
			for _, srv := range servers {
				if dep, ok := svc.DependsOn[srv]; !ok || dep.Condition != types.ServiceConditionHealthy {
					t.Errorf("%s: want depends_on %s with condition service_healthy, got %+v", name, srv, svc.DependsOn)
				}
			}
			checkHealthcheck(t, name, binName, svc, args, wantURL)
		})
	}
}

// checkHealthcheck checks that a custodian service's health check runs the
// probe against what the service really serves.
func checkHealthcheck(t *testing.T, name, binName string, svc types.ServiceConfig, args parsedArgs, natsURL string) {
	t.Helper()
	hc := svc.HealthCheck
	if hc == nil || len(hc.Test) < 3 || hc.Test[0] != "CMD" || hc.Test[1] != probePath {
		t.Errorf("%s: health check %+v: want [CMD %s ...]", name, hc, probePath)
		return
	}
	probeArgs := hc.Test[2:]
	switch binName {
	case "supervisor":
		node, _ := args.last("node")
		want := "custodian.node." + node + ".status"
		if probeArgs[0] != "request" || probeArgs[len(probeArgs)-1] != want || probeArgs[1] != "--nats="+natsURL {
			t.Errorf("supervisor health check %q: want a request to %s", probeArgs, want)
		}
	case "dashboard":
		listen, _ := args.last("listen")
		_, port, err := net.SplitHostPort(listen)
		if err != nil {
			t.Fatalf("dashboard --listen %q: %v", listen, err)
		}
		u, err := url.Parse(probeArgs[len(probeArgs)-1])
		if probeArgs[0] != "http" || err != nil || u.Port() != port || u.Path != "/healthz" {
			t.Errorf("dashboard health check %q: want http .../healthz on port %s", probeArgs, port)
		}
	case "notifier":
		nameFlag, _ := args.last("name")
		if probeArgs[0] != "consumer" || probeArgs[1] != "--nats="+natsURL || probeArgs[len(probeArgs)-1] != nameFlag {
			t.Errorf("notifier health check %q: want the consumer probe of %q", probeArgs, nameFlag)
		}
	}
}

// listenPorts are the TCP ports a service listens on, from its command line.
func listenPorts(t *testing.T, name string, svc types.ServiceConfig) map[uint32]bool {
	t.Helper()
	ports := map[uint32]bool{}
	addPort := func(addr string) {
		_, p, err := net.SplitHostPort(addr)
		if err != nil {
			t.Errorf("%s: listen address %q: %v", name, addr, err)
			return
		}
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			t.Errorf("%s: listen address %q: %v", name, addr, err)
			return
		}
		ports[uint32(n)] = true
	}
	if strings.HasPrefix(svc.Image, "nats:") {
		opts := natsOptions(t, svc)
		port := opts.Port
		if port == 0 {
			port = server.DEFAULT_PORT
		}
		ports[uint32(port)] = true
		if opts.HTTPPort > 0 {
			ports[uint32(opts.HTTPPort)] = true
		}
		return ports
	}
	known := map[string]bool{"listen": false, "dashboard": false, "nats": false, "nats-listen": false}
	args := parseArgs(svc.Command, knownOrAny(known, svc.Command))
	if v, ok := args.last("listen"); ok {
		addPort(v)
	}
	if v, ok := args.last("dashboard"); ok && v != "off" {
		addPort(v)
	}
	if _, external := args.last("nats"); !external {
		if v, ok := args.last("nats-listen"); ok {
			addPort(v)
		}
	}
	return ports
}

// knownOrAny treats every flag of cmd as known (non-boolean unless written
// name=value or followed by another flag) so that parseArgs can pick out the
// listed ones.
func knownOrAny(listed map[string]bool, cmd []string) map[string]bool {
	known := map[string]bool{}
	for i, a := range cmd {
		if !strings.HasPrefix(a, "-") {
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		known[name] = !hasValue && (i+1 == len(cmd) || strings.HasPrefix(cmd[i+1], "-"))
	}
	for k, v := range listed {
		known[k] = v
	}
	return known
}

// natsOptions parses the nats service's command with nats-server's own
// command-line parser (the one its main uses).
func natsOptions(t *testing.T, svc types.ServiceConfig) *server.Options {
	t.Helper()
	fs := flag.NewFlagSet("nats-server", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	opts, err := server.ConfigureOptions(fs, svc.Command, func() {}, func() {}, func() {})
	if err != nil {
		t.Fatalf("nats command %q: nats-server refuses it: %v", svc.Command, err)
	}
	return opts
}

func TestComposeNATSServiceRunsJetStreamInItsVolume(t *testing.T) {
	p := loadCompose(t)
	svc, ok := p.Services["nats"]
	if !ok {
		t.Fatal("compose.yaml has no service nats")
	}
	if !strings.HasPrefix(svc.Image, "nats:") {
		t.Errorf("nats image %q: want the official nats image", svc.Image)
	}
	opts := natsOptions(t, svc)
	if !opts.JetStream {
		t.Error("nats command does not enable JetStream (-js)")
	}
	if opts.StoreDir == "" || !inVolume(svc, opts.StoreDir) {
		t.Errorf("nats store dir %q is not inside a mounted volume %+v", opts.StoreDir, svc.Volumes)
	}
	if opts.HTTPPort == 0 {
		t.Fatal("nats command has no monitoring port (-m): the health check needs /healthz")
	}
	hc := svc.HealthCheck
	if hc == nil || len(hc.Test) < 2 || hc.Test[0] != "CMD" {
		t.Fatalf("nats health check %+v: want an exec-form CMD", hc)
	}
	u, err := url.Parse(hc.Test[len(hc.Test)-1])
	if err != nil || u.Path != "/healthz" || u.Port() != strconv.Itoa(opts.HTTPPort) {
		t.Errorf("nats health check %q: want GET /healthz on the monitoring port %d", hc.Test, opts.HTTPPort)
	}
}

func TestComposePublishedPortsAreListenedOn(t *testing.T) {
	p := loadCompose(t)
	published := 0
	for name, svc := range p.Services {
		ports := listenPorts(t, name, svc)
		for _, pc := range svc.Ports {
			published++
			if !ports[pc.Target] {
				t.Errorf("%s publishes container port %d but listens on %v", name, pc.Target, slices.Sorted(maps.Keys(ports)))
			}
			if pc.HostIP != "127.0.0.1" {
				t.Errorf("%s publishes port %d on host address %q: want 127.0.0.1 (docs/DOCKER.md says so)", name, pc.Target, pc.HostIP)
			}
			if pc.Published != strconv.Itoa(int(pc.Target)) {
				t.Errorf("%s publishes container port %d as host port %s: docs/DOCKER.md says they match", name, pc.Target, pc.Published)
			}
		}
	}
	dash := p.Services["dashboard"]
	if len(dash.Ports) == 0 {
		t.Error("the dashboard publishes no port")
	}
	if published == 0 {
		t.Error("no service publishes a port")
	}
}

func TestComposeVolumesAreDeclaredAndHoldTheData(t *testing.T) {
	checkVolumes(t, loadCompose(t))
}

// checkVolumes checks that every named volume used is declared and used,
// that only named volumes are mounted read-write, that every supervisor's
// --data and every nats server's store are in a volume of their own.
func checkVolumes(t *testing.T, p *types.Project) {
	used := map[string]string{} // volume -> service
	for name, svc := range p.Services {
		for _, v := range svc.Volumes {
			if v.Type != types.VolumeTypeVolume {
				if !v.ReadOnly {
					t.Errorf("%s mounts %s %q read-write: want named volumes for data (host paths only read-only)", name, v.Type, v.Source)
				}
				continue
			}
			if other, ok := used[v.Source]; ok {
				t.Errorf("volume %q is mounted by %s and %s: each data directory needs its own", v.Source, other, name)
			}
			used[v.Source] = name
			if _, ok := p.Volumes[v.Source]; !ok {
				t.Errorf("%s uses volume %q which is not declared", name, v.Source)
			}
		}
	}
	for v := range p.Volumes {
		if _, ok := used[v]; !ok {
			t.Errorf("volume %q is declared but no service mounts it", v)
		}
	}
	supervisors := 0
	for name, bin := range custodianServices(p) {
		if bin != "supervisor" {
			continue
		}
		supervisors++
		svc := p.Services[name]
		args := parseArgs(svc.Command, knownOrAny(map[string]bool{"demo": true}, svc.Command))
		data, ok := args.last("data")
		if !ok {
			t.Errorf("%s: no --data: its default ./data would be outside the volume", name)
			continue
		}
		if !inVolume(svc, data) {
			t.Errorf("%s: --data %q is not inside a mounted volume %+v", name, data, svc.Volumes)
		}
	}
	if supervisors == 0 {
		t.Error("no supervisor service")
	}
	for _, name := range natsServers(p) {
		svc := p.Services[name]
		if slices.Contains(svc.Command, "--config") || slices.Contains(svc.Command, "-c") {
			continue // store_dir is in the config file (checked where the file is run)
		}
		opts := natsOptions(t, svc)
		if !opts.JetStream || !inVolume(svc, opts.StoreDir) {
			t.Errorf("%s: JetStream %v, store %q not in a volume", name, opts.JetStream, opts.StoreDir)
		}
	}
}

// inVolume reports whether dir is at or below a volume mount of svc.
func inVolume(svc types.ServiceConfig, dir string) bool {
	dir = path.Clean(dir)
	for _, v := range svc.Volumes {
		target := path.Clean(v.Target)
		if v.Type == types.VolumeTypeVolume && !v.ReadOnly && (dir == target || strings.HasPrefix(dir, target+"/")) {
			return true
		}
	}
	return false
}

func TestDockerfileBuildsWhatComposeRuns(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{
		"FROM golang:",
		"CGO_ENABLED=0",
		"ARG BINARIES=\"supervisor dashboard notifier\"",
		"./cmd/$b",
		"-o /out/bin/custodian-probe ./internal/deploy/probe",
		"COPY --from=build /out/bin/ /usr/local/bin/",
		"FROM gcr.io/distroless/static",
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile does not contain %q", want)
		}
	}
	// The probe must build the way the Dockerfile builds it.
	buildBinary(t, "./internal/deploy/probe")
}
