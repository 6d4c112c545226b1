package bus

import (
	"reflect"
	"strings"
	"testing"

	"github.com/custodian-dev/custodian/internal/apierr"
	"github.com/custodian-dev/custodian/internal/events"
)

// cmdBody, the request form of events.CommandBody, has the same fields.
func TestCmdBodyHasTheFieldsOfCommandBody(t *testing.T) {
	tags := func(v any) []string {
		var out []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			out = append(out, name)
		}
		return out
	}
	if a, b := tags(cmdBody{}), tags(events.CommandBody{}); !reflect.DeepEqual(a, b) {
		t.Fatalf("cmdBody fields %v, events.CommandBody fields %v", a, b)
	}
}

func TestDecodeCommand(t *testing.T) {
	for body, want := range map[string]events.CommandBody{
		``:                                {},
		` {} `:                            {},
		`{"backup_id":"b1","wait":true}`:  {BackupID: "b1", Wait: true},
		`{"force":true,"mode":"rewrite"}`: {Force: true, Mode: "rewrite"},
	} {
		got, err := decodeCommand([]byte(body))
		if err != nil || got != want {
			t.Errorf("%q: %+v %v, want %+v", body, got, err, want)
		}
	}
	for _, body := range []string{`{"backup_id":""}`, `{"backup_id":null,"x":1}`, `{"backup_id":"\ud800"}`, "{\"mode\":\"\xff\"}", `[]`} {
		if _, err := decodeCommand([]byte(body)); apierr.CodeOf(err) != apierr.InvalidRequest {
			t.Errorf("%q: %v", body, err)
		}
	}
}
