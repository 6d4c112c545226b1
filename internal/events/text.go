package events

import "unicode/utf8"

// Cut returns the longest prefix of s of at most n bytes that does not
// split a character (event messages go into headers and notifications
// that must stay valid UTF-8).
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:max(n, 0)]
}
