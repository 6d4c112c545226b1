package jsonutf8

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		json   string
		offset int // -1: valid
	}{
		{`"plain"`, -1},
		{`{"k":"é€😀","v":[1,"\n\t\"\\\/"]}`, -1},
		{`"\u00e9\uFFFD\u0000"`, -1},
		{`"\ud83d\ude00"`, -1}, // a pair: 😀
		{`"\uD83D\uDE00"`, -1},
		{`"\\ud800"`, -1}, // an escaped backslash, then text
		{`"\\\\ud800"`, -1},
		{"\"bad\xff\xfekey\"", 4},
		{"\"bad\xfe\xffkey\"", 4},
		{"\"\xed\xa0\x80\"", 1}, // a surrogate encoded in UTF-8
		{"\"\xc3\"", 1},         // a cut 2-byte character
		{`"\ud800"`, 1},
		{`"x\udc00"`, 2},
		{`"\ud800\u0041"`, 1},
		{`"\ud800\ud800"`, 1},
		{`"\ud800x"`, 1},
		{`"\udbff\udfff\udc00"`, 13},
		{`{"\ud800":1}`, 2},
		{`"\\\ud800"`, 3},
	}
	for _, c := range cases {
		err := Check([]byte(c.json))
		var e *Error
		switch {
		case c.offset < 0 && err != nil:
			t.Errorf("%s: %v", c.json, err)
		case c.offset >= 0 && !errors.As(err, &e):
			t.Errorf("%s: accepted", c.json)
		case c.offset >= 0 && e.Offset != c.offset:
			t.Errorf("%s: %v, want offset %d", c.json, err, c.offset)
		}
		if valid := jsontext.Value(c.json).IsValid(jsontext.AllowDuplicateNames(true)); valid != (c.offset < 0) {
			t.Errorf("%s: the test is wrong: a strict JSON decoder says valid=%v", c.json, valid)
		}
	}
}

func TestCheckString(t *testing.T) {
	if err := CheckString("é€😀\uFFFD"); err != nil {
		t.Error(err)
	}
	var e *Error
	if err := CheckString("ab\xffc"); !errors.As(err, &e) || e.Offset != 2 {
		t.Errorf("invalid UTF-8: %v", err)
	}
	if err := CheckString("\xed\xb0\x80"); err == nil {
		t.Error("an encoded surrogate accepted")
	}
}

// FuzzCheck compares Check with a strict JSON decoder (go-json-experiment's
// jsontext, which refuses invalid UTF-8 and lone surrogates) on every valid
// JSON text.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`"a"`, `"\ud800"`, `"\ud83d\ude00"`, "\"\xff\"", `{"a":["\\u0041"]}`, `"\\\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			_ = Check(b) // must not panic
			return
		}
		err := Check(b)
		strict := jsontext.Value(b).IsValid(jsontext.AllowDuplicateNames(true))
		if (err == nil) != strict {
			t.Fatalf("%q: Check says %v, the strict decoder valid=%v", b, err, strict)
		}
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.Offset < 0 || e.Offset >= len(b)) {
			t.Fatalf("%q: %v", b, err)
		}
	})
}
