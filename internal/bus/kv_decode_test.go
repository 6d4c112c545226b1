package bus

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// TestDecodeKeyFastPathAgreesWithStrictDecoding: the shortcut for
// {"key":"k"} answers exactly what the strict decoder answers.
func TestDecodeKeyFastPathAgreesWithStrictDecoding(t *testing.T) {
	bodies := []string{
		`{"key":"k1"}`, ` {"key":"a b"} `, `{"key":""}`, `{"key":"é"}`, `{"key":"a\"b"}`, `{"key":"a\\b"}`,
		`{"key":"a\u0041"}`, `{"key":"x"} `, `{"key":"x"}{}`, `{"key":"x"},`, `{"key":"x","y":1}`,
		`{"key":"x"`, `{"key": "x"}`, `{"Key":"x"}`, `{"key":1}`, `{}`, ``, `{"key":"` + strings.Repeat("z", 5000) + `"}`,
		"{\"key\":\"a\tb\"}", `{"key":"a"}"}`, `{"key":"}`, `{"key":"a\x7fb"}`,
	}
	for _, body := range bodies {
		var b keyBody
		serr := decodeStrict([]byte(body), &b, false)
		if serr == nil && b.Key == nil {
			serr = missing("key")
		}
		got, err := decodeKey([]byte(body))
		if (err == nil) != (serr == nil) {
			t.Errorf("%q: decodeKey error %v, strict error %v", body, err, serr)
			continue
		}
		if err != nil {
			if apierr.CodeOf(err) != apierr.CodeOf(serr) {
				t.Errorf("%q: code %s vs %s", body, apierr.CodeOf(err), apierr.CodeOf(serr))
			}
			continue
		}
		if got != *b.Key {
			t.Errorf("%q: key %q, strict %q", body, got, *b.Key)
		}
	}
}

// TestDecodeMessagesSayWhatIsWrong: a refusal names the problem and
// repeats at most a few hundred bytes of the body, cut on a character
// boundary.
func TestDecodeMessagesSayWhatIsWrong(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`{"limit":1e3}`, `field "limit": want an integer (digits only: no fraction, no exponent), got 1e3`},
		{`{"limit":1.5}`, `field "limit": want an integer (digits only: no fraction, no exponent), got 1.5`},
		{`{"limit":99999999999999999999}`, `field "limit": 99999999999999999999 is out of range for an integer`},
		{`{"limit":"ten"}`, `field "limit": wrong type string, want integer`},
		{`{"prefix":1}`, `field "prefix": wrong type number, want string`},
		{"{\"prefix\":\"a\xffb\"}", `invalid UTF-8 at byte 12`},
		{`{"after":"\udc00"}`, `lone surrogate \udc00 at byte 10`},
	} {
		var b scanBody
		err := decodeStrict([]byte(c.body), &b, true)
		if apierr.CodeOf(err) != apierr.InvalidRequest || !strings.Contains(apierr.MessageOf(err), c.want) {
			t.Errorf("%s: %v, want %q in the message", c.body, err, c.want)
		}
	}
	for _, body := range []string{
		`{"` + strings.Repeat("é", 450<<10) + `":1}`,
		`{"limit":` + strings.Repeat("9", 900<<10) + `}`,
		`{"limit":1.` + strings.Repeat("5", 900<<10) + `}`,
		`{"prefix":` + strings.Repeat("7", 900<<10) + `}`,
	} {
		var b scanBody
		err := decodeStrict([]byte(body), &b, true)
		msg := apierr.MessageOf(err)
		if apierr.CodeOf(err) != apierr.InvalidRequest || len(msg) > 512 || !utf8.ValidString(msg) {
			t.Errorf("%.40s...: a message of %d bytes (valid UTF-8: %v): %.300s", body, len(msg), utf8.ValidString(msg), msg)
		}
	}
}
