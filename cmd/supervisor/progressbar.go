package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/custodian-dev/custodian/internal/events"
)

// progressBar shows the progress a table's running operation reports
// (table.stats events with data.running). On a terminal it redraws one line
// ("\r"); elsewhere (a pipe, a log) it writes a line per report.
type progressBar struct {
	w     io.Writer
	tty   bool
	verb  string // the command waited for: another one's progress is "waiting behind" it
	drawn bool   // a terminal line is open
	gone  bool   // a write failed: nothing more is drawn
}

const barWidth = 30

// show draws the figures of e, when it is a progress report.
func (b *progressBar) show(e events.Event) error {
	verb, _ := e.Data["running"].(string)
	done, okDone := events.Integer(e.Data, "progress_done")
	total, okTotal := events.Integer(e.Data, "progress_total")
	if b.gone || verb == "" || !okDone || !okTotal {
		return nil
	}
	unit, _ := e.Data["progress_unit"].(string)
	what := e.Table + " " + verb
	if b.verb != "" && verb != b.verb {
		what = e.Table + ": waiting behind " + verb
	}
	line := fmt.Sprintf("%s: %d/%d %s", what, done, total, unit)
	if total > 0 {
		frac := min(max(float64(done)/float64(total), 0), 1)
		fill := int(frac * barWidth)
		line = fmt.Sprintf("%s [%s%s] %3.0f%% %d/%d %s", what,
			strings.Repeat("#", fill), strings.Repeat(" ", barWidth-fill), frac*100, done, total, unit)
	}
	if q, ok := events.Integer(e.Data, "queue"); ok && q > 0 {
		line += fmt.Sprintf(" (%d queued)", q)
	}
	var err error
	if b.tty {
		_, err = fmt.Fprintf(b.w, "\r\033[K%s", line)
		b.drawn = true
	} else {
		_, err = fmt.Fprintln(b.w, line)
	}
	return err
}

// off stops drawing (the writer failed).
func (b *progressBar) off() { b.gone = true }

// end closes the terminal line, if one is open.
func (b *progressBar) end() error {
	if !b.drawn {
		return nil
	}
	b.drawn = false
	_, err := fmt.Fprintln(b.w)
	return err
}
