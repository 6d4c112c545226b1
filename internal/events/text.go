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

// EchoBytes is how much of a string a client sent an error message or an
// event repeats: a refusal must stay small enough to be answered and
// recorded (an event is at most 256 KiB) whatever it echoes.
const EchoBytes = 200

// Echo is s, a string a client sent, as an error message or an event
// repeats it: at most EchoBytes bytes, cut on a character boundary, with
// "..." appended when cut.
func Echo(s string) string {
	if len(s) <= EchoBytes {
		return s
	}
	return Cut(s, EchoBytes) + "..."
}
