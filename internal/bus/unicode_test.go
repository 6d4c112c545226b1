package bus

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

// Two keys that differ only in invalid UTF-8 (or in lone surrogates) are
// refused, not decoded to one key with U+FFFD in place of each bad
// sequence: they never overwrite each other nor the key that really is
// "bad\uFFFD\uFFFDkey".
func TestInvalidUnicodeKeysAreNeverMerged(t *testing.T) {
	n := startNode(t, nodeOptions{tables: []string{"users"}})
	n.ok(t, "custodian.kv.users.put", `{"key":"bad\uFFFD\uFFFDkey","value":"the real one"}`)
	for _, body := range []string{
		"{\"key\":\"bad\xff\xfekey\",\"value\":\"ff fe\"}",
		"{\"key\":\"bad\xfe\xffkey\",\"value\":\"fe ff\"}",
		`{"key":"bad\ud800\udbffkey","value":"surrogates"}`,
		`{"value":"surrogates","key":"bad\udc00\udc00key"}`,
	} {
		if r := n.request(t, "custodian.kv.users.put", body); r.errCode() != "invalid_request" {
			t.Errorf("%q: %s", body, r.msg.Data)
		}
		if r := n.request(t, "custodian.kv.users.batch", `{"ops":[`+body[:len(body)-1]+`,"op":"put"}]}`); r.errCode() != "invalid_request" {
			t.Errorf("batch of %q: %s", body, r.msg.Data)
		}
	}
	got := n.ok(t, "custodian.kv.users.get", `{"key":"bad\uFFFD\uFFFDkey"}`)
	if got["value"] != "the real one" {
		t.Fatalf("the key was overwritten: %v", got)
	}
	scan := n.ok(t, "custodian.kv.users.scan", `{"prefix":"bad"}`)
	if items := scan["items"].([]any); len(items) != 1 {
		t.Fatalf("scan: %v", scan)
	}
}

// Valid text of any script is stored as sent and comes back as valid JSON,
// whether the client escaped it or not.
func TestValidUnicodeRoundTrips(t *testing.T) {
	n := startNode(t, nodeOptions{tables: []string{"users"}})
	n.ok(t, "custodian.kv.users.put", `{"key":"é😀","value":{"name":"\ud83d\ude00 é","raw":"€"}}`)
	n.ok(t, "custodian.kv.users.put", `{"key":"\u0000\uFFFF","value":"\u0000"}`)
	for _, body := range []string{`{"key":"é😀"}`, `{"key":"\u00e9\ud83d\ude00"}`, `{"key":"\u00E9\uD83D\uDE00"}`} {
		r := n.request(t, "custodian.kv.users.get", body)
		if !utf8.Valid(r.msg.Data) || !json.Valid(r.msg.Data) {
			t.Fatalf("%s: reply %q", body, r.msg.Data)
		}
		v, _ := r.body["value"].(map[string]any)
		if r.body["key"] != "é😀" || v["name"] != "😀 é" || v["raw"] != "€" {
			t.Fatalf("%s: %s", body, r.msg.Data)
		}
	}
	if got := n.ok(t, "custodian.kv.users.get", `{"key":"\u0000\uffff"}`); got["value"] != "\x00" {
		t.Fatalf("NUL key: %v", got)
	}
	scan := n.ok(t, "custodian.kv.users.scan", `{"prefix":"é"}`)
	if items := scan["items"].([]any); len(items) != 1 {
		t.Fatalf("scan: %v", scan)
	}
	n.ok(t, "custodian.kv.users.delete", `{"key":"\u00e9\ud83d\ude00"}`)
	if r := n.request(t, "custodian.kv.users.get", `{"key":"é😀"}`); r.errCode() != "not_found" {
		t.Fatalf("after delete: %s", r.msg.Data)
	}
}
