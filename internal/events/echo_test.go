package events

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEchoCutsOnACharacterBoundary(t *testing.T) {
	if got := Echo("short"); got != "short" {
		t.Errorf("short: %q", got)
	}
	if s := strings.Repeat("x", EchoBytes); Echo(s) != s {
		t.Errorf("%d bytes were cut", EchoBytes)
	}
	for pad := range 4 {
		s := strings.Repeat("a", pad) + strings.Repeat("é€😀", 400)
		got := Echo(s)
		if !utf8.ValidString(got) || !strings.HasSuffix(got, "...") || len(got) > EchoBytes+3 || len(got) < EchoBytes-3 {
			t.Errorf("pad %d: %d bytes, valid UTF-8 %v", pad, len(got), utf8.ValidString(got))
		}
	}
}
