package bus

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv makes the test binary act as an emitting process (see
// TestOutboxCrashChild).
const crashChildEnv = "CUSTODIAN_BUS_CRASH_CHILD"

// TestOutboxCrashChild is not a test: in a child process it opens the
// outbox, publishes to the server at $NATS_URL, and emits events forever,
// printing each event id once Emit has returned.
func TestOutboxCrashChild(t *testing.T) {
	if os.Getenv(crashChildEnv) == "" {
		t.Skip("helper process")
	}
	o, err := OpenOutbox(os.Getenv("OUTBOX_DIR"), OutboxOptions{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	nc := connectTCP(t, os.Getenv("NATS_URL"))
	js := newJS(t, nc)
	go func() { _ = o.Run(context.Background(), js) }()
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		e := testEvent(i)
		if err := o.Emit(context.Background(), e); err != nil {
			fmt.Println("error", err)
			os.Exit(2)
		}
		fmt.Fprintln(w, e.ID)
		w.Flush()
	}
}

// TestOutboxSurvivesSIGKILL kills a process that is emitting and publishing
// events, then opens its outbox again: every event whose Emit had returned
// reaches the stream, once, in the order it was emitted.
func TestOutboxSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("child process")
	}
	s := runJS(t, t.TempDir(), -1)
	js := newJS(t, connectTCP(t, s.ClientURL()))
	ensureStream(t, js)
	dir := filepath.Join(t.TempDir(), "outbox")

	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestOutboxCrashChild$")
		cmd.Env = append(os.Environ(), crashChildEnv+"=1", "OUTBOX_DIR="+dir, "NATS_URL="+s.ClientURL())
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		var acked []string
		for len(acked) < 200 && sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "error") {
				t.Fatalf("child: %s", line)
			}
			if len(line) == 36 {
				acked = append(acked, line)
			}
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if len(acked) < 200 {
			t.Fatalf("round %d: child printed %d ids", round, len(acked))
		}

		o := openOutbox(t, dir)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		done := make(chan error, 1)
		go func() { done <- o.Run(ctx, js) }()
		if err := o.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}

		evs, ids := streamEvents(t, js)
		pos := map[string]int{}
		for i, e := range evs {
			if _, dup := pos[e.ID]; dup {
				t.Fatalf("round %d: event %s twice in the stream", round, e.ID)
			}
			if ids[i] != e.ID {
				t.Fatalf("round %d: Nats-Msg-Id %q for %s", round, ids[i], e.ID)
			}
			pos[e.ID] = i
		}
		prev := -1
		for _, id := range acked {
			p, ok := pos[id]
			if !ok {
				t.Fatalf("round %d: event %s was acknowledged by Emit and is not in the stream", round, id)
			}
			if p <= prev {
				t.Fatalf("round %d: event %s out of order", round, id)
			}
			prev = p
		}
		t.Logf("round %d: %d acknowledged before SIGKILL, %d events in the stream", round, len(acked), len(evs))
	}
}
