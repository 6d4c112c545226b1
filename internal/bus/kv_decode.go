package bus

import (
	"bytes"
	"encoding/json"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/jsonutf8"
	"github.com/custodian-dev/custodian/internal/tables"
)

// Bodies of the data plane. Pointers tell a missing field from an empty one.
type (
	keyBody struct {
		Key *string `json:"key"`
	}
	putBody struct {
		Key   *string         `json:"key"`
		Value json.RawMessage `json:"value"`
	}
	batchBody struct {
		Ops *[]tables.Op `json:"ops"`
	}
	scanBody struct {
		Prefix string `json:"prefix"`
		After  string `json:"after"`
		Limit  *int   `json:"limit"`
	}
	// scanQuery is a decoded scan body: Limit 0 is the table's default.
	scanQuery struct {
		Prefix, After string
		Limit         int
	}
)

// decodeKey decodes a {"key":...} body. The common exact form with a plain
// ASCII key is read without the JSON decoder (it is most of a get's cost);
// anything else goes through decodeStrict, so both give the same answer.
func decodeKey(body []byte) (string, error) {
	if k, ok := plainKey(body); ok {
		return k, nil
	}
	var b keyBody
	if err := decodeStrict(body, &b, false); err != nil {
		return "", err
	}
	if b.Key == nil {
		return "", missing("key")
	}
	return *b.Key, nil
}

// decodePut decodes a {"key":...,"value":...} body. The common exact form
// (plainPut) is read without the JSON decoder; anything else goes through
// decodeStrict, so both give the same answer.
func decodePut(body []byte) (string, json.RawMessage, error) {
	if k, v, ok := plainPut(body); ok {
		return k, v, nil
	}
	var b putBody
	if err := decodeStrict(body, &b, false); err != nil {
		return "", nil, err
	}
	if b.Key == nil {
		return "", nil, missing("key")
	}
	if len(b.Value) == 0 {
		return "", nil, missing("value")
	}
	return *b.Key, b.Value, nil
}

// plainPut reads exactly {"key":"k","value":v} (JSON whitespace around the
// object and around v allowed) where k is printable ASCII without quotes or
// escapes and v is one valid JSON value of valid Unicode (see jsonutf8).
func plainPut(body []byte) (string, json.RawMessage, bool) {
	const pre, mid = `{"key":"`, `","value":`
	b := trimJSONSpace(body)
	if len(b) < len(pre)+len(mid)+2 || string(b[:len(pre)]) != pre || b[len(b)-1] != '}' {
		return "", nil, false
	}
	rest := b[len(pre) : len(b)-1]
	end := bytes.IndexByte(rest, '"')
	if end < 0 || !bytes.HasPrefix(rest[end:], []byte(mid)) {
		return "", nil, false
	}
	k := rest[:end]
	if !plainKeyBytes(k) {
		return "", nil, false
	}
	v := trimJSONSpace(rest[end+len(mid):])
	if len(v) == 0 || !json.Valid(v) || jsonutf8.Check(v) != nil {
		return "", nil, false
	}
	return string(k), json.RawMessage(v), true
}

// plainKey reads exactly {"key":"k"} (JSON whitespace around allowed) where k is
// printable ASCII without quotes or escapes.
func plainKey(body []byte) (string, bool) {
	const pre, post = `{"key":"`, `"}`
	b := trimJSONSpace(body)
	if len(b) < len(pre)+len(post) || string(b[:len(pre)]) != pre || string(b[len(b)-len(post):]) != post {
		return "", false
	}
	k := b[len(pre) : len(b)-len(post)]
	if !plainKeyBytes(k) {
		return "", false
	}
	return string(k), true
}

// plainKeyBytes reports whether k, the bytes between the quotes of a key,
// is printable ASCII without quotes or escapes: the JSON string's value is
// then k itself.
func plainKeyBytes(k []byte) bool {
	for _, c := range k {
		if c == '"' || c == '\\' || c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

func missing(field string) error {
	return apierr.New(apierr.InvalidRequest, "missing %q", field)
}

// decodeBatch decodes a {"ops":[...]} body. The ops themselves are checked
// by tables.Table.Batch.
func decodeBatch(body []byte) ([]tables.Op, error) {
	var b batchBody
	if err := decodeStrict(body, &b, false); err != nil {
		return nil, err
	}
	if b.Ops == nil {
		return nil, missing("ops")
	}
	return *b.Ops, nil
}

// decodeScan decodes a {"prefix":...,"after":...,"limit":...} body; every
// field is optional and an empty body is {}.
func decodeScan(body []byte) (scanQuery, error) {
	var b scanBody
	if err := decodeStrict(body, &b, true); err != nil {
		return scanQuery{}, err
	}
	q := scanQuery{Prefix: b.Prefix, After: b.After}
	if b.Limit != nil {
		if *b.Limit < 0 {
			return scanQuery{}, apierr.New(apierr.InvalidRequest, "limit %d is negative", *b.Limit)
		}
		q.Limit = *b.Limit
	}
	return q, nil
}

// trimJSONSpace is b without the JSON whitespace (space, tab, CR, LF) at
// either end. (bytes.TrimSpace also takes \v, \f, U+0085 and U+00A0, which
// JSON does not allow between tokens.)
func trimJSONSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}
