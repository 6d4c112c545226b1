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

position is the write's place in the table's journal: generation x 10^13 +
goleveldb's sequence number (a rewrite, restore or salvage starts a new
generation, so 3000000000451 is write 451 of generation 3); --from prints the
writes from that position on (default: from the oldest kept). time is the time
of the write's batch, or of the last batch before it that carried one (at
most 1 ms earlier). A key or value that is not
valid UTF-8 / JSON is printed as key_base64 / value_base64. It reads the
archive <data>/journal/<table>/ and the live table's journals (safe while the
supervisor runs: a write being appended is left out), following the history
of the table's current state. It exits
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

// printJournal prints the writes of table's journal (archived and live)
// in the history of its current state, after position from (0: from the
// oldest kept).
func printJournal(data, table string, from uint64, w io.Writer) error {
	live := filepath.Join(data, "tables", table)
	if _, err := os.Stat(live); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("no table %s under %s", table, data)
	}
	g, err := changelog.ReadGeneration(live)
	if err != nil {
		return err
	}
	j := changelog.Journal{Archive: filepath.Join(data, "journal", table), Live: live, Current: g.Number}
	if from == 0 {
		if from, err = j.Start(); err != nil {
			return err
		}
	} else if _, seq := changelog.SplitPosition(from); seq > 0 {
		from-- // --from is the first position printed; a replay starts after its From
	}
	enc := json.NewEncoder(w)
	res, err := j.Replay(changelog.Replay{From: from}, func(op changelog.Op) error {
		return enc.Encode(lineOf(op))
	})
	if err != nil {
		return err
	}
	if res.Lost != "" {
		return errors.New(res.Lost)
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
