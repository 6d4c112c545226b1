package scale

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// repoRoot is the module root, two levels above this package.
func repoRoot(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("cannot locate the test file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// buildSupervisor builds ./cmd/supervisor as an operator would (no -race,
// whatever flags the test binary has) and returns the binary's path.
func buildSupervisor(tb testing.TB) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "supervisor")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/supervisor")
	cmd.Dir = repoRoot(tb)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./cmd/supervisor: %v\n%s", err, b)
	}
	return out
}

// nodeConfig is the supervisor's config file as the harness writes it.
type nodeConfig struct {
	Data    string
	Node    string
	NATSURL string
	// MaxOpenTables is the node's max_open_tables; 0 leaves the key out
	// (the supervisor's default).
	MaxOpenTables int
}

// write writes c as YAML to path.
func (c nodeConfig) write(tb testing.TB, path string) {
	tb.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "data: %q\nnode: %q\n", c.Data, c.Node)
	fmt.Fprintf(&b, "nats:\n  url: %q\n", c.NATSURL)
	// Off-site copies would ship every table's journal to a stream: not
	// what is measured here.
	b.WriteString("offsite:\n  mode: \"off\"\n")
	if c.MaxOpenTables > 0 {
		fmt.Fprintf(&b, "max_open_tables: %d\n", c.MaxOpenTables)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for a child's output and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// supervisorProc is a running supervisor binary.
type supervisorProc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error // the exit status, after done
}

// startSupervisor starts bin with --config cfg. The test's cleanup kills it
// if it still runs and prints its output when the test failed.
func startSupervisor(tb testing.TB, bin, cfg string) *supervisorProc {
	tb.Helper()
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tb.TempDir(), "NATS_URL="}
	p := &supervisorProc{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start the supervisor: %v", err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	tb.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if tb.Failed() {
			tb.Logf("--- supervisor output ---\n%s", tail(p.out.String(), 8000))
		}
	})
	return p
}

// pid is the supervisor's process id.
func (p *supervisorProc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *supervisorProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitError describes how the process ended, with the end of its output.
func (p *supervisorProc) exitError() error {
	return fmt.Errorf("the supervisor exited: %v\n%s", p.err, tail(p.out.String(), 4000))
}

// stop sends SIGTERM and waits for a clean exit (a shutdown closes every
// table: grace is generous for ten thousand of them).
func (p *supervisorProc) stop(tb testing.TB, grace time.Duration) {
	tb.Helper()
	if p.exited() {
		tb.Fatal(p.exitError())
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatal(err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			tb.Fatalf("the supervisor exited with %v after SIGTERM\n%s", p.err, tail(p.out.String(), 4000))
		}
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		tb.Fatalf("the supervisor did not exit within %v of SIGTERM\n%s", grace, tail(p.out.String(), 4000))
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}
