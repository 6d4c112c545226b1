package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// nodeProgress shows how many tables of a node-wide command are done. On
// a terminal it redraws one line ("\r"); elsewhere it writes a line when
// the count changed, at most one a second, and always the last one.
type nodeProgress struct {
	w     io.Writer
	tty   bool
	what  string // "n1 compact"
	every time.Duration

	last  time.Time
	shown string // the figures last written
	drawn bool   // a terminal line is open
	gone  bool   // a write failed: nothing more is drawn
}

// show draws done of total tables (failed of them failed, refused tables
// not counted in total).
func (p *nodeProgress) show(done, total, failed, refused int) error {
	if p.gone {
		return nil
	}
	figures := fmt.Sprintf("%d/%d tables", done, total)
	if failed > 0 {
		figures += fmt.Sprintf(" (%d failed)", failed)
	}
	if refused > 0 {
		figures += fmt.Sprintf(" (%d refused)", refused)
	}
	now := time.Now()
	if figures == p.shown || (done < total && now.Sub(p.last) < p.every) {
		return nil
	}
	p.last, p.shown = now, figures
	line := p.what + ": " + figures
	if total > 0 {
		frac := float64(done) / float64(total)
		fill := int(frac * barWidth)
		line = fmt.Sprintf("%s [%s%s] %3.0f%% %s", p.what,
			strings.Repeat("#", fill), strings.Repeat(" ", barWidth-fill), frac*100, figures)
	}
	var err error
	if p.tty {
		_, err = fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
	} else {
		_, err = fmt.Fprintln(p.w, line)
	}
	return err
}

// off stops drawing (the writer failed).
func (p *nodeProgress) off() { p.gone = true }

// end closes the terminal line, if one is open.
func (p *nodeProgress) end() error {
	if !p.drawn {
		return nil
	}
	p.drawn = false
	_, err := fmt.Fprintln(p.w)
	return err
}
