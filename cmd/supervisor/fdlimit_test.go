package main

import (
	"strings"
	"syscall"
	"testing"
)

// A max_open_tables the open-files limit cannot hold is refused at start
// with what to change; the default fits a usual limit.
func TestFileLimitRefusesWhatCannotBeOpened(t *testing.T) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	tooMany := int(lim.Cur/fdsPerOpenTable) + 1
	err := checkFileLimit(tooMany)
	if err == nil || !strings.Contains(err.Error(), "max_open_tables") || !strings.Contains(err.Error(), "ulimit -n") {
		t.Fatalf("max_open_tables %d with a limit of %d: %v, want a refusal naming the fix", tooMany, lim.Cur, err)
	}
	if lim.Cur >= 4096 {
		if err := checkFileLimit(0); err != nil {
			t.Fatalf("the default max_open_tables with a limit of %d: %v", lim.Cur, err)
		}
	}
}
