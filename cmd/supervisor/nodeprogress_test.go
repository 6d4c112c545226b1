package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestNodeProgressLines(t *testing.T) {
	var out bytes.Buffer
	p := &nodeProgress{w: &out, what: "n1 compact", every: time.Hour}
	for _, s := range [][4]int{{0, 4, 0, 1}, {1, 4, 0, 1}, {2, 4, 1, 1}, {4, 4, 1, 1}, {4, 4, 1, 1}} {
		if err := p.show(s[0], s[1], s[2], s[3]); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.end(); err != nil {
		t.Fatal(err)
	}
	// The first line, then nothing within the hour but the last one, once.
	want := "n1 compact [                              ]   0% 0/4 tables (1 refused)\n" +
		"n1 compact [##############################] 100% 4/4 tables (1 failed) (1 refused)\n"
	if out.String() != want {
		t.Fatalf("lines:\n%q\nwant\n%q", out.String(), want)
	}
}

func TestNodeProgressTerminal(t *testing.T) {
	var out bytes.Buffer
	p := &nodeProgress{w: &out, tty: true, what: "n1 backup"}
	for done := range 3 {
		if err := p.show(done, 2, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.end(); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if strings.Count(s, "\r\033[K") != 3 || !strings.HasSuffix(s, "100% 2/2 tables\n") || strings.Count(s, "\n") != 1 {
		t.Fatalf("terminal output %q", s)
	}
	// No tables: a line without a bar.
	out.Reset()
	p = &nodeProgress{w: &out, what: "n1 verify"}
	if err := p.show(0, 0, 0, 0); err != nil || out.String() != "n1 verify: 0/0 tables\n" {
		t.Fatalf("no tables: %q %v", out.String(), err)
	}
}
