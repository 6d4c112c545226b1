package bus

import (
	"strings"
	"testing"

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
