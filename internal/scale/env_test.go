package scale

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// envInt is the positive integer in the environment variable name, or def
// when it is unset; anything else fails the benchmark (a typo must not
// silently measure the default).
func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// envDuration is the duration in name (time.ParseDuration), or def.
func envDuration(tb testing.TB, name string, def time.Duration) time.Duration {
	tb.Helper()
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		tb.Fatalf("%s=%q: want a duration such as 10s", name, v)
	}
	return d
}
