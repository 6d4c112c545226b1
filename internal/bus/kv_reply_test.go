package bus

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestRepliesEncodeAsTheEncoderDoes: the hand-written encodings of the
// put/delete and get replies are byte for byte what encoding/json writes
// for WriteReply and GetReply, for plain keys and for keys it escapes.
func TestRepliesEncodeAsTheEncoderDoes(t *testing.T) {
	keys := []string{
		"", "k", "k00001", "a b", "users/42", "~!@#$%^*()_+-=[]{}|;:',./?`",
		`a"b`, `a\b`, "a<b", "a>b", "a&b", "tab\there", "nl\n", "\x00", "\x7f",
		"é", "日本", "\xff\xfe", "\u2028", strings.Repeat("z", 5000),
	}
	plain := 0
	for _, k := range keys {
		if plainJSONString(k) {
			plain++
		}
		got, err := writeReply(k)
		if err != nil {
			t.Fatalf("writeReply(%q): %v", k, err)
		}
		want, err := json.Marshal(WriteReply{OK: true, Key: k})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("writeReply(%q) = %s, encoder %s", k, got, want)
		}
		for _, v := range []json.RawMessage{json.RawMessage(`{"a":[1,"x"]}`), json.RawMessage(`1`), nil} {
			got, err := getReply(k, v)
			if err != nil {
				t.Fatalf("getReply(%q): %v", k, err)
			}
			want, err := json.Marshal(GetReply{Key: k, Value: v})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("getReply(%q, %s) = %s, encoder %s", k, v, got, want)
			}
		}
	}
	if plain < 6 || plain == len(keys) {
		t.Errorf("%d of %d keys plain: the test no longer covers both paths", plain, len(keys))
	}
}
