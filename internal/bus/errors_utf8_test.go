package bus

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A long error message is cut for its header without splitting a
// character: the header stays valid UTF-8.
func TestHeaderSafeCutsOnACharacterBoundary(t *testing.T) {
	for pad := range 4 {
		msg := strings.Repeat("a", pad) + strings.Repeat("é€😀", 200) // 2-, 3- and 4-byte characters
		got := headerSafe(msg)
		if !utf8.ValidString(got) || !strings.HasSuffix(got, "...") || len(got) > 512+3 {
			t.Fatalf("pad %d: %d bytes, valid UTF-8 %v: %q", pad, len(got), utf8.ValidString(got), got[len(got)-12:])
		}
	}
}
