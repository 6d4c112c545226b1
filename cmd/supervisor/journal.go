package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/custodian-dev/custodian/internal/changelog"
	"github.com/custodian-dev/custodian/internal/events"
)

const journalUsage = `Usage: supervisor journal [--data DIR] [--from POSITION] TABLE

Prints the writes in TABLE's change journal as JSON lines, in order:

  {"position":42,"time":"2026-12-04T18:30:00Z","op":"put","key":"alice","value":{"age":41}}
  {"position":43,"op":"delete","key":"bob"}

position is the write's sequence number in the table's goleveldb journal;
time is there when the write's batch carried one. A key or value that is not
valid UTF-8 / JSON is printed as key_base64 / value_base64. It reads the
files of <data>/journal/<table>/ (kept journals) and then those of the live
table (safe while the supervisor runs: a write being appended is left out).
Today that is the writes since goleveldb last flushed its memtable. It exits
1 when a journal is damaged (after printing what precedes the damage, and
naming the file and offset on stderr), 2 on bad arguments.

Flags:
`

// journalLine is one line of "supervisor journal".
type journalLine struct {
	Position    uint64          `json:"position"`
	Time        *time.Time      `json:"time,omitempty"`
	Op          string          `json:"op"`
	Key         *string         `json:"key,omitempty"`
	KeyBase64   string          `json:"key_base64,omitempty"`
	Value       json.RawMessage `json:"value,omitempty"`
	ValueBase64 string          `json:"value_base64,omitempty"`
}

// runJournal is "supervisor journal".
func runJournal(args []string, stdout, stderr io.Writer) int {
	fset := flag.NewFlagSet("supervisor journal", flag.ContinueOnError)
	fset.SetOutput(io.Discard)
	fset.Usage = func() {}
	data := fset.String("data", "./data", "the supervisor's data directory")
	from := fset.String("from", "0", "print writes from this position on")
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printHelp(fset, stdout, journalUsage)
			return 0
		}
		fmt.Fprintf(stderr, "supervisor journal: %v\n", err)
		return 2
	}
	if fset.NArg() != 1 {
		fmt.Fprintf(stderr, "supervisor journal: want one table name, got %d arguments\n", fset.NArg())
		return 2
	}
	table := fset.Arg(0)
	if !events.ValidTable(table) {
		fmt.Fprintf(stderr, "supervisor journal: invalid table name %q: want ^[a-z0-9][a-z0-9_-]{0,63}$\n", events.Echo(table))
		return 2
	}
	pos, err := strconv.ParseUint(*from, 10, 64)
	if err != nil {
		fmt.Fprintf(stderr, "supervisor journal: --from %q: want a position (a whole number)\n", events.Echo(*from))
		return 2
	}
	if err := printJournal(*data, table, pos, stdout); err != nil {
		fmt.Fprintf(stderr, "supervisor journal: table %s: %v\n", table, err)
		return 1
	}
	return 0
}

// printJournal prints the writes of table's kept and live journals from
// position from on.
func printJournal(data, table string, from uint64, w io.Writer) error {
	live := filepath.Join(data, "tables", table)
	if _, err := os.Stat(live); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no table %s under %s", table, data)
	}
	enc := json.NewEncoder(w)
	for _, dir := range []string{filepath.Join(data, "journal", table), live} {
		files, err := changelog.Journals(dir) // none when dir does not exist
		if err != nil {
			return err
		}
		for _, f := range files {
			_, err := changelog.ReadFile(f, from, func(op changelog.Op) error {
				return enc.Encode(lineOf(op))
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}

func lineOf(op changelog.Op) journalLine {
	l := journalLine{Position: op.Seq, Op: op.Kind}
	if !op.Time.IsZero() {
		t := op.Time
		l.Time = &t
	}
	if utf8.Valid(op.Key) {
		k := string(op.Key)
		l.Key = &k
	} else {
		l.KeyBase64 = base64.StdEncoding.EncodeToString(op.Key)
	}
	if op.Kind == "put" {
		if json.Valid(op.Value) {
			l.Value = op.Value
		} else {
			l.ValueBase64 = base64.StdEncoding.EncodeToString(op.Value)
		}
	}
	return l
}
