package scale

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the tests, or, when the raw baseline started this binary
// as its child (childModeEnv set), the raw goleveldb work alone: its
// resident memory and open files are then those of goleveldb and the Go
// runtime, nothing else.
func TestMain(m *testing.M) {
	if mode := os.Getenv(childModeEnv); mode != "" {
		if err := rawChild(mode, os.Getenv(childDirEnv), os.Getenv(childTablesEnv), os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "raw goleveldb %s: %v\n", mode, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
