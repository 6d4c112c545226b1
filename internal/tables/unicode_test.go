package tables

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// A table used from Go refuses keys that are not valid UTF-8 and values
// that are not valid JSON text (invalid UTF-8, lone surrogate escapes) on
// every write and read, and changes nothing.
func TestTableRefusesInvalidUnicode(t *testing.T) {
	ctx := context.Background()
	tb := mustOpen(t, openTestStore(t, t.TempDir(), nil), "t")
	if err := tb.Put(ctx, "bad\uFFFD\uFFFDkey", json.RawMessage(`"real"`)); err != nil {
		t.Fatal(err)
	}
	badKeys := []string{"bad\xff\xfekey", "bad\xfe\xffkey", "a\xed\xa0\x80", "\xc3", strings.Repeat("x", 300) + "\xff"}
	badValues := []string{"\"\xff\"", `"\ud800"`, `{"a":"\udc00"}`, `["\ud800\u0041"]`, "{\"\xfe\":1}"}
	refused := func(what string, err error) {
		t.Helper()
		if apierr.CodeOf(err) != apierr.InvalidRequest {
			t.Errorf("%s: %v, want invalid_request", what, err)
		}
		if err != nil && len(err.Error()) > 1024 {
			t.Errorf("%s: a message of %d bytes", what, len(err.Error()))
		}
	}
	for _, k := range badKeys {
		refused("put "+k, tb.Put(ctx, k, json.RawMessage(`1`)))
		_, err := tb.Get(ctx, k)
		refused("get "+k, err)
		refused("delete "+k, tb.Delete(ctx, k))
		refused("batch "+k, tb.Batch(ctx, []Op{{Op: "delete", Key: "x"}, {Op: "delete", Key: k}}))
	}
	for _, v := range badValues {
		refused("put "+v, tb.Put(ctx, "k", json.RawMessage(v)))
		refused("batch "+v, tb.Batch(ctx, []Op{{Op: "put", Key: "x", Value: json.RawMessage(`1`)}, {Op: "put", Key: "k", Value: json.RawMessage(v)}}))
	}
	res, err := tb.Scan(ctx, "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 1 || res.Items[0].Key != "bad\uFFFD\uFFFDkey" || string(res.Items[0].Value) != `"real"` {
		t.Fatalf("refused writes changed the table: %+v", res.Items)
	}
	// Valid text of any script, escaped or not, is stored as sent.
	for _, v := range []string{`"é😀"`, `"\ud83d\ude00"`, `"\\ud800"`, `"\u0000"`} {
		if err := tb.Put(ctx, "é😀", json.RawMessage(v)); err != nil {
			t.Errorf("put %s: %v", v, err)
		}
		if got, err := tb.Get(ctx, "é😀"); err != nil || string(got) != v {
			t.Errorf("get %s: %s %v", v, got, err)
		}
	}
}

// An error message repeats at most a few hundred bytes of a key.
func TestTableErrorsCutTheKey(t *testing.T) {
	ctx := context.Background()
	tb := mustOpen(t, openTestStore(t, t.TempDir(), nil), "t")
	key := strings.Repeat("é", MaxKeyBytes/2)
	_, err := tb.Get(ctx, key)
	if apierr.CodeOf(err) != apierr.NotFound || len(err.Error()) > 512 {
		t.Fatalf("get: %d bytes: %v", len(err.Error()), err)
	}
	err = tb.Put(ctx, key, json.RawMessage(`nope`))
	if apierr.CodeOf(err) != apierr.InvalidRequest || len(err.Error()) > 512 {
		t.Fatalf("put: %d bytes: %v", len(err.Error()), err)
	}
}
