package bus

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nats-io/nats.go/micro"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
	"github.com/custodian-dev/custodian/internal/jsonutf8"
)

// The request decoders are fuzzed for: no panic; a refusal is
// invalid_request with a short valid message that errorMsg turns into a
// valid reply; what is accepted is valid Unicode and decodes the same
// again once encoded. Seeds are below and in testdata/fuzz/<FuzzName>/.

// refused checks a decoder's refusal.
func refused(t *testing.T, body []byte, err error) {
	t.Helper()
	if c := apierr.CodeOf(err); c != apierr.InvalidRequest {
		t.Fatalf("%q: code %s (%v), want invalid_request", body, c, err)
	}
	msg := apierr.MessageOf(err)
	if msg == "" || len(msg) > maxMessage || !utf8.ValidString(msg) {
		t.Fatalf("%q: a message of %d bytes (valid UTF-8 %v): %.300q", body, len(msg), utf8.ValidString(msg), msg)
	}
	rep := errorMsg(err)
	var eb ErrorBody
	if err := json.Unmarshal(rep.data, &eb); err != nil || eb.Error.Code != apierr.InvalidRequest || eb.Error.Message != msg {
		t.Fatalf("%q: reply %q", body, rep.data)
	}
	if h := rep.header.Get(micro.ErrorHeader); h == "" || strings.ContainsAny(h, "\r\n") || !utf8.ValidString(h) {
		t.Fatalf("%q: header %q", body, h)
	}
}

// validText fails the test when s is not valid UTF-8.
func validText(t *testing.T, body []byte, what, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("%q: accepted %s %q, not valid UTF-8", body, what, s)
	}
}

// validValue fails the test when v is not one valid JSON value of valid
// Unicode.
func validValue(t *testing.T, body []byte, v json.RawMessage) {
	t.Helper()
	if !json.Valid(v) || jsonutf8.Check(v) != nil {
		t.Fatalf("%q: accepted value %q", body, v)
	}
}

// compact is v without insignificant space.
func compact(t *testing.T, v json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		t.Fatalf("compact %q: %v", v, err)
	}
	return b.String()
}

// marshal encodes v as a client would send it: without encoding/json's
// HTML escaping, which would turn a value's "&" into "\u0026" (the same
// JSON value, other bytes; the fuzzer found it).
func marshal(t *testing.T, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func addSeeds(f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
}

// FuzzDecodePut: the put decoder, its fast path against the strict one.
func FuzzDecodePut(f *testing.F) {
	addSeeds(f, `{"key":"k","value":1}`, ` {"key":"a b","value":{"x":[1,"}"]}} `, `{"value":null,"key":"é"}`,
		"{\"key\":\"bad\xff\xfekey\",\"value\":1}", `{"key":"\ud800","value":1}`, `{"key":"k","value":"\udc00"}`,
		`{"key":"k","value":"\ud83d\ude00"}`, "{\"key\":\"k\",\"value\":\"\xff\"}", `{"key":"k","value":1,"x":2}`,
		"{\"key\":\"k\",\"value\":1\u00a0}", "{\"key\":\"k\",\"value\":\v1}", `{"key":"k","value":1e3}`, `{"key":"k"}`, ``)
	f.Fuzz(func(t *testing.T, body []byte) {
		key, value, err := decodePut(body)
		var b putBody
		serr := decodeStrict(body, &b, false)
		if serr == nil && b.Key == nil {
			serr = missing("key")
		}
		if serr == nil && len(b.Value) == 0 {
			serr = missing("value")
		}
		if (err == nil) != (serr == nil) {
			t.Fatalf("%q: decodePut says %v, the strict decoder %v", body, err, serr)
		}
		if err != nil {
			refused(t, body, err)
			return
		}
		if key != *b.Key || string(value) != string(b.Value) {
			t.Fatalf("%q: %q=%s, strict %q=%s", body, key, value, *b.Key, b.Value)
		}
		validText(t, body, "key", key)
		validValue(t, body, value)
		again := append(append(append([]byte(`{"key":`), marshal(t, key)...), `,"value":`...), value...)
		k2, v2, err := decodePut(append(again, '}'))
		if err != nil || k2 != key || string(v2) != string(value) {
			t.Fatalf("%q: %q=%s did not round-trip: %q=%s %v", body, key, value, k2, v2, err)
		}
	})
}

// FuzzDecodeKey: the get and delete decoder, its fast path against the
// strict one.
func FuzzDecodeKey(f *testing.F) {
	addSeeds(f, `{"key":"k1"}`, ` {"key":"a b"} `, `{"key":""}`, `{"key":"é"}`, `{"key":"a\"b"}`, `{"key":"a\u0041"}`,
		"{\"key\":\"bad\xff\xfekey\"}", `{"key":"\ud800"}`, `{"key":"\ud83d\ude00"}`, `{"key":"x","y":1}`, `{"Key":"x"}`, `{}`, ``)
	f.Fuzz(func(t *testing.T, body []byte) {
		key, err := decodeKey(body)
		var b keyBody
		serr := decodeStrict(body, &b, false)
		if serr == nil && b.Key == nil {
			serr = missing("key")
		}
		if (err == nil) != (serr == nil) {
			t.Fatalf("%q: decodeKey says %v, the strict decoder %v", body, err, serr)
		}
		if err != nil {
			refused(t, body, err)
			return
		}
		if key != *b.Key {
			t.Fatalf("%q: key %q, strict %q", body, key, *b.Key)
		}
		validText(t, body, "key", key)
		if k2, err := decodeKey(marshal(t, keyBody{Key: &key})); err != nil || k2 != key {
			t.Fatalf("%q: key %q did not round-trip: %q %v", body, key, k2, err)
		}
	})
}

// FuzzDecodeBatch: the batch decoder.
func FuzzDecodeBatch(f *testing.F) {
	addSeeds(f, `{"ops":[{"op":"put","key":"a","value":1},{"op":"delete","key":"b"}]}`, `{"ops":[]}`, `{"ops":null}`, `{}`,
		`{"ops":[{"op":"put","key":"\ud800","value":1}]}`, "{\"ops\":[{\"op\":\"put\",\"key\":\"a\",\"value\":\"\xff\"}]}",
		`{"ops":[{"op":"frob","key":"a","when":1}]}`, `{"ops":"a"}`, `{"ops":[1]}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		ops, err := decodeBatch(body)
		if err != nil {
			refused(t, body, err)
			return
		}
		for _, op := range ops {
			validText(t, body, "op", op.Op)
			validText(t, body, "key", op.Key)
			if op.Value != nil {
				validValue(t, body, op.Value)
			}
		}
		again, err := decodeBatch(marshal(t, batchBody{Ops: &ops}))
		if err != nil || len(again) != len(ops) {
			t.Fatalf("%q: %d ops did not round-trip: %d %v", body, len(ops), len(again), err)
		}
		for i := range ops {
			if again[i].Op != ops[i].Op || again[i].Key != ops[i].Key || (ops[i].Value != nil && compact(t, again[i].Value) != compact(t, ops[i].Value)) {
				t.Fatalf("%q: op %d %+v became %+v", body, i, ops[i], again[i])
			}
		}
	})
}

// FuzzDecodeScan: the scan decoder.
func FuzzDecodeScan(f *testing.F) {
	addSeeds(f, ``, `{}`, `{"prefix":"b","after":"","limit":100}`, `{"limit":-1}`, `{"limit":1e3}`, `{"limit":1.5}`,
		`{"limit":99999999999999999999}`, `{"limit":"ten"}`, "{\"prefix\":\"a\xff\"}", `{"after":"\ud800"}`, `{"prefix":1}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		q, err := decodeScan(body)
		if err != nil {
			refused(t, body, err)
			return
		}
		validText(t, body, "prefix", q.Prefix)
		validText(t, body, "after", q.After)
		if q.Limit < 0 {
			t.Fatalf("%q: limit %d", body, q.Limit)
		}
		again, err := decodeScan(marshal(t, scanBody{Prefix: q.Prefix, After: q.After, Limit: &q.Limit}))
		if err != nil || again != q {
			t.Fatalf("%q: %+v did not round-trip: %+v %v", body, q, again, err)
		}
	})
}

// FuzzDecodeCommand: the body of a command (cmd.<table>.<verb> and node
// compact, backup, verify).
func FuzzDecodeCommand(f *testing.F) {
	addSeeds(f, ``, `{}`, `{"wait":true}`, `{"force":true,"mode":"rewrite"}`, `{"backup_id":"20261126T160551.681503469Z-677c2f"}`,
		`{"backup_id":""}`, `{"backup_id":null}`, `{"backup_id":7}`, `{"force":"yes"}`, `{"wiat":true}`, `[true]`,
		"{\"mode\":\"\xff\"}", `{"backup_id":"\ud800"}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		cb, err := decodeCommand(body)
		if err != nil {
			refused(t, body, err)
			return
		}
		validText(t, body, "mode", cb.Mode)
		validText(t, body, "backup_id", cb.BackupID)
		again, err := decodeCommand(marshal(t, cb))
		if err != nil || !reflect.DeepEqual(again, cb) {
			t.Fatalf("%q: %+v did not round-trip: %+v %v", body, cb, again, err)
		}
	})
}

// FuzzDecodeCreate: the body of node create.
func FuzzDecodeCreate(f *testing.F) {
	addSeeds(f, `{"table":"orders"}`, `{"table":"orders","wait":true}`, `{}`, ``, `{"table":5}`, `{"table":"a","x":1}`,
		"{\"table\":\"a\xff\"}", `{"table":"\udbff"}`, `{"table":"../etc"}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		table, err := decodeCreate(body)
		if err != nil {
			refused(t, body, err)
			return
		}
		validText(t, body, "table", table)
		if again, err := decodeCreate(marshal(t, createBody{Table: &table})); err != nil || again != table {
			t.Fatalf("%q: %q did not round-trip: %q %v", body, table, again, err)
		}
		// The events of a refused name stay small.
		if !events.ValidTable(table) && len(clipName(table)) > events.EchoBytes+3 {
			t.Fatalf("%q: clipName keeps %d bytes", body, len(clipName(table)))
		}
	})
}
