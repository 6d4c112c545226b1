package main

import (
	"math"
	"os"
	"runtime/debug"
	"strings"
	"testing"
)

// memory_limit sets the runtime's soft limit (default 1 GiB, -1 none) and
// refuses a limit too small to run in.
func TestMemoryLimit(t *testing.T) {
	if _, set := lookupGOMEMLIMIT(); set {
		t.Skip("GOMEMLIMIT is set: it wins over memory_limit")
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	for _, c := range []struct {
		in, want int64
	}{{0, defaultMemoryLimit}, {2 << 30, 2 << 30}, {-1, math.MaxInt64}} {
		debug.SetMemoryLimit(math.MaxInt64)
		if err := setMemoryLimit(c.in); err != nil {
			t.Fatalf("memory_limit %d: %v", c.in, err)
		}
		if got := debug.SetMemoryLimit(-1); got != c.want {
			t.Fatalf("memory_limit %d: runtime limit %d, want %d", c.in, got, c.want)
		}
	}
	if err := setMemoryLimit(1 << 20); err == nil || !strings.Contains(err.Error(), "at least 64 MiB") {
		t.Fatalf("memory_limit of 1 MiB: %v, want a refusal", err)
	}
}

func lookupGOMEMLIMIT() (string, bool) { return os.LookupEnv("GOMEMLIMIT") }
