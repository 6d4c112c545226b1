package notifier

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A body cut for ntfy without a newline to cut at stays valid UTF-8.
func TestClipCutsOnACharacterBoundary(t *testing.T) {
	for pad := range 4 {
		body := strings.Repeat("a", pad) + strings.Repeat("é€😀", 2000)
		got := clip(body, ntfyMaxBody)
		if len(got) > ntfyMaxBody || !utf8.ValidString(got) {
			t.Fatalf("pad %d: %d bytes, valid UTF-8 %v", pad, len(got), utf8.ValidString(got))
		}
	}
}
