package main

import (
	"fmt"
	"os"
	"runtime/debug"
)

// defaultMemoryLimit is the soft memory limit the supervisor runs with
// unless memory_limit or GOMEMLIMIT says otherwise: what the default
// max_open_tables is sized for. Opening and closing thousands of tables
// (a node-wide compaction wakes every one) makes garbage fast; with Go's
// default pacing the heap may grow to twice what is live before a
// collection, and the limit makes the collector run before that.
const defaultMemoryLimit = 1 << 30

// setMemoryLimit applies the config's memory_limit (0: the default, -1:
// none). GOMEMLIMIT, when set, wins (the runtime has applied it).
func setMemoryLimit(limit int64) error {
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return nil
	}
	switch {
	case limit == 0:
		limit = defaultMemoryLimit
	case limit == -1:
		return nil
	case limit < 64<<20:
		return fmt.Errorf("memory_limit %d: want at least 64 MiB (67108864), or -1 for none", limit)
	}
	debug.SetMemoryLimit(limit)
	return nil
}
