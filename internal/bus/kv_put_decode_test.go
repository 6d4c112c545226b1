package bus

import (
	"strings"
	"testing"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// TestDecodePutFastPathAgreesWithStrictDecoding: the shortcut for
// {"key":"k","value":v} answers exactly what the strict decoder answers,
// and takes the shortcut for the common form.
func TestDecodePutFastPathAgreesWithStrictDecoding(t *testing.T) {
	bodies := []string{
		`{"key":"k1","value":1}`, ` {"key":"a b","value":{"x":[1,2,"}"]}} `, `{"key":"","value":1}`,
		`{"key":"k","value": 1 }`, `{"key":"k","value":null}`, `{"key":"k","value":"s"}`, `{"key":"k","value":"a\"}"}`,
		`{"key":"k","value":true}`, `{"key":"k","value":[]}`, `{"key":"k","value":{}}`, "{\"key\":\"k\",\"value\":\n{\"a\":\t1}\n}",
		`{"key":"k","value":1}}`, `{"key":"k","value":{"a":1}`, `{"key":"k","value":}`, `{"key":"k","value":1,"value":2}`,
		`{"key":"k","value":1,"key":"j"}`, `{"key":"k","value":1,"x":2}`, `{"key":"k","value":01}`, `{"key":"k","value":tru}`,
		`{"key":"k","value":1}{}`, `{"key":"k","value":1},`, `{"key":"k","value":1`, `{"key":"k"}`, `{"value":1}`,
		`{"value":1,"key":"k"}`, `{"key":"é","value":1}`, `{"key":"a\"b","value":1}`, `{"key":"a\\b","value":1}`,
		`{"key":"a\u0041","value":1}`, "{\"key\":\"a\tb\",\"value\":1}", `{"key":"a\x7fb","value":1}`, `{"key": "k","value":1}`,
		`{"key":"k" ,"value":1}`, `{"Key":"k","value":1}`, `{"key":1,"value":1}`, `{}`, ``, `[]`, `{"key":"k","value":"\ud800"}`,
		`{"key":"k","value":"` + "\xff" + `"}`, `{"key":"` + strings.Repeat("z", 5000) + `","value":1}`,
		`{"key":"k","value":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
		// Not JSON whitespace around the value (bytes.TrimSpace's, not JSON's).
		"{\"key\":\"k\",\"value\":1\u00a0}", "{\"key\":\"k\",\"value\":\v1}", "{\"key\":\"k\",\"value\":1\f}",
		"{\"key\":\"k\",\"value\":\u00851}",
	}
	fast := 0
	for _, body := range bodies {
		var b putBody
		serr := decodeStrict([]byte(body), &b, false)
		if serr == nil && b.Key == nil {
			serr = missing("key")
		}
		if serr == nil && len(b.Value) == 0 {
			serr = missing("value")
		}
		if _, _, ok := plainPut([]byte(body)); ok {
			fast++
		}
		key, value, err := decodePut([]byte(body))
		if (err == nil) != (serr == nil) {
			t.Errorf("%q: decodePut error %v, strict error %v", body, err, serr)
			continue
		}
		if err != nil {
			if apierr.CodeOf(err) != apierr.CodeOf(serr) {
				t.Errorf("%q: code %s vs %s", body, apierr.CodeOf(err), apierr.CodeOf(serr))
			}
			continue
		}
		if key != *b.Key || string(value) != string(b.Value) {
			t.Errorf("%q: %q=%s, strict %q=%s", body, key, value, *b.Key, b.Value)
		}
	}
	if fast < 10 {
		t.Errorf("the fast path took only %d bodies", fast)
	}
}
