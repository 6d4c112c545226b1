// Package jsonutf8 tells whether a JSON text holds only valid Unicode: valid
// UTF-8, and no \u escape of a lone surrogate. encoding/json accepts both and
// decodes each such string to U+FFFD, so two different keys would decode to
// the same one; a raw value stored as it came would go out as invalid JSON.
package jsonutf8

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

// Error is the first text of a JSON text that is not valid Unicode.
type Error struct {
	Offset int    // of its first byte
	What   string // "invalid UTF-8" or `lone surrogate \udXXX`
}

func (e *Error) Error() string { return fmt.Sprintf("%s at byte %d", e.What, e.Offset) }

// Check returns nil when b holds only valid Unicode and an *Error for the
// first text that does not. b is a valid JSON text (json.Valid): a backslash
// then only occurs in strings, as the start of an escape. Valid input costs
// a utf8.Valid and a bytes.Index, plus a bytes.IndexByte per escape when it
// has \u escapes, without allocating.
func Check(b []byte) error {
	if !utf8.Valid(b) {
		return &Error{Offset: firstInvalid(b), What: "invalid UTF-8"}
	}
	if bytes.Index(b, []byte(`\u`)) < 0 {
		return nil // no \u escape at all (one vectorised pass)
	}
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\\')
		if j < 0 || i+j+1 >= len(b) {
			return nil
		}
		i += j
		if b[i+1] != 'u' {
			i += 2 // \" \\ \/ \b \f \n \r \t
			continue
		}
		r, ok := hex4(b[i+2:])
		switch {
		case !ok:
			i += 2 // not JSON; the JSON check reports it
		case r >= 0xD800 && r <= 0xDBFF: // high surrogate: a low one must follow
			if lo, ok := escapeAt(b[i+6:]); ok && lo >= 0xDC00 && lo <= 0xDFFF {
				i += 12
				continue
			}
			return &Error{Offset: i, What: fmt.Sprintf(`lone surrogate \u%04x`, r)}
		case r >= 0xDC00 && r <= 0xDFFF:
			return &Error{Offset: i, What: fmt.Sprintf(`lone surrogate \u%04x`, r)}
		default:
			i += 6
		}
	}
}

// CheckString is Check for a string.
func CheckString(s string) error {
	if !utf8.ValidString(s) {
		return &Error{Offset: firstInvalid([]byte(s)), What: "invalid UTF-8"}
	}
	return nil
}

// firstInvalid is the offset of the first byte of b that is not part of a
// valid UTF-8 encoding.
func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// escapeAt reads a \uXXXX escape at the start of b.
func escapeAt(b []byte) (rune, bool) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, false
	}
	return hex4(b[2:])
}

// hex4 reads four hexadecimal digits.
func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
