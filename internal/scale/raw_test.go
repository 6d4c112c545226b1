package scale

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/util"
)

// The raw baseline's child process: this test binary, started again with
// these variables set (see TestMain).
const (
	childModeEnv   = "CUSTODIAN_SCALE_CHILD"        // create, open or compact
	childDirEnv    = "CUSTODIAN_SCALE_CHILD_DIR"    // where the databases are
	childTablesEnv = "CUSTODIAN_SCALE_CHILD_TABLES" // how many
)

// rawReport is what the child prints (JSON) when it is done.
type rawReport struct {
	Before procFigures   `json:"before"` // before the databases were opened
	After  procFigures   `json:"after"`  // with all of them open (open)
	Took   time.Duration `json:"took"`   // the work alone
}

// rawChild does one piece of the raw baseline with goleveldb's default
// options (what a program that opens a goleveldb database gets):
//
//	create   create n databases with keysPerTable keys each, close them
//	open     open the n databases, read k1 of each, keep them all open and
//	         report the process's figures
//	compact  open, compact (CompactRange of everything) and close each
func rawChild(mode, dir, count string, out io.Writer) error {
	n, err := strconv.Atoi(count)
	if err != nil || n <= 0 || dir == "" {
		return fmt.Errorf("want %s (a directory) and %s (a positive count), got %q and %q",
			childDirEnv, childTablesEnv, dir, count)
	}
	var rep rawReport
	if rep.Before, err = readProc("self"); err != nil {
		return err
	}
	start := time.Now()
	switch mode {
	case "create":
		err = rawCreate(dir, n)
	case "open":
		var dbs []*leveldb.DB
		dbs, err = rawOpen(dir, n)
		rep.Took = time.Since(start)
		if err == nil {
			rep.After, err = readProc("self")
		}
		for _, db := range dbs {
			if cerr := db.Close(); cerr != nil && err == nil {
				err = cerr
			}
		}
	case "compact":
		err = rawCompact(dir, n)
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	if err != nil {
		return err
	}
	if rep.Took == 0 {
		rep.Took = time.Since(start)
	}
	return json.NewEncoder(out).Encode(rep)
}

func rawCreate(dir string, n int) error {
	for i := range n {
		db, err := leveldb.OpenFile(filepath.Join(dir, tableName(i)), nil)
		if err != nil {
			return fmt.Errorf("table %s: open: %w", tableName(i), err)
		}
		for k := range keysPerTable {
			v, _ := json.Marshal(keyValue(i, k))
			if err := db.Put([]byte(fmt.Sprintf("k%d", k)), v, nil); err != nil {
				_ = db.Close()
				return fmt.Errorf("table %s: put: %w", tableName(i), err)
			}
		}
		if err := db.Close(); err != nil {
			return fmt.Errorf("table %s: close: %w", tableName(i), err)
		}
	}
	return nil
}

// rawOpen opens the n databases and reads one key of each; on an error it
// returns the ones it opened, for the caller to close.
func rawOpen(dir string, n int) ([]*leveldb.DB, error) {
	dbs := make([]*leveldb.DB, 0, n)
	for i := range n {
		db, err := leveldb.OpenFile(filepath.Join(dir, tableName(i)), nil)
		if err != nil {
			return dbs, fmt.Errorf("table %s (after %d open): open: %w", tableName(i), len(dbs), err)
		}
		dbs = append(dbs, db)
		if _, err := db.Get([]byte("k1"), nil); err != nil {
			return dbs, fmt.Errorf("table %s: get: %w", tableName(i), err)
		}
	}
	return dbs, nil
}

func rawCompact(dir string, n int) error {
	for i := range n {
		db, err := leveldb.OpenFile(filepath.Join(dir, tableName(i)), nil)
		if err != nil {
			return fmt.Errorf("table %s: open: %w", tableName(i), err)
		}
		if err := db.CompactRange(util.Range{}); err != nil {
			_ = db.Close()
			return fmt.Errorf("table %s: compact: %w", tableName(i), err)
		}
		if err := db.Close(); err != nil {
			return fmt.Errorf("table %s: close: %w", tableName(i), err)
		}
	}
	return nil
}

// runRaw runs the child in mode on n databases under dir and returns its
// report.
func runRaw(tb testing.TB, mode, dir string, n int) rawReport {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childModeEnv+"="+mode, childDirEnv+"="+dir, childTablesEnv+"="+strconv.Itoa(n))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("raw goleveldb baseline (%s, %d databases): %v\n%s", mode, n, err, stderr.String())
	}
	var rep rawReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		tb.Fatalf("raw goleveldb baseline (%s): report: %v: %q", mode, err, stdout.String())
	}
	return rep
}
