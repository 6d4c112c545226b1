package tables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	lerrors "github.com/syndtr/goleveldb/leveldb/errors"
	"github.com/syndtr/goleveldb/leveldb/storage"

	"github.com/custodian-dev/custodian/internal/apierr"
)

func TestNamesValidatedBeforeAnyPath(t *testing.T) {
	root := t.TempDir()
	s := openTestStore(t, root, nil)
	before := listTree(t, root)
	bad := []string{"../x", "A", "", strings.Repeat("a", 65), "a/b", ".hidden", "-x", "x y", "a\x00b", "..", "ü"}
	ctx := context.Background()
	for _, name := range bad {
		for _, create := range []bool{true, false} {
			tb, err := s.Open(ctx, name, create)
			if tb != nil || apierr.CodeOf(err) != apierr.InvalidTable {
				t.Errorf("Open(%q, %v) = %v, %v; want invalid_table", name, create, tb, err)
			}
		}
		if _, err := s.Backups(name); apierr.CodeOf(err) != apierr.InvalidTable {
			t.Errorf("Backups(%q): %v; want invalid_table", name, err)
		}
		if _, err := s.Prune(name, 1); apierr.CodeOf(err) != apierr.InvalidTable {
			t.Errorf("Prune(%q): %v; want invalid_table", name, err)
		}
	}
	if after := listTree(t, root); !reflect.DeepEqual(before, after) {
		t.Fatalf("bad names changed the disk: before %v after %v", before, after)
	}
	// The longest valid name works.
	mustOpen(t, s, strings.Repeat("a", 64))
}

func TestDataPlane(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := openTestStore(t, root, nil)
	tb := mustOpen(t, s, "users")
	if _, err := tb.Get(ctx, "nope"); apierr.CodeOf(err) != apierr.NotFound {
		t.Fatalf("get absent: %v", err)
	}
	if err := tb.Put(ctx, "u1", json.RawMessage(`{"name":"ann"}`)); err != nil {
		t.Fatal(err)
	}
	v, err := tb.Get(ctx, "u1")
	if err != nil || string(v) != `{"name":"ann"}` {
		t.Fatalf("get: %s %v", v, err)
	}
	// Bad input is refused and changes nothing.
	for _, c := range []struct {
		key  string
		val  string
		code apierr.Code
	}{
		{"", `1`, apierr.InvalidRequest},
		{"u1", `{not json`, apierr.InvalidRequest},
		{"u1", ``, apierr.InvalidRequest},
		{strings.Repeat("k", MaxKeyBytes+1), `1`, apierr.TooLarge},
	} {
		if err := tb.Put(ctx, c.key, json.RawMessage(c.val)); apierr.CodeOf(err) != c.code {
			t.Errorf("put %.10q %q: %v, want %s", c.key, c.val, err, c.code)
		}
	}
	if v, _ := tb.Get(ctx, "u1"); string(v) != `{"name":"ann"}` {
		t.Fatalf("a refused put changed the value: %s", v)
	}
	if err := tb.Batch(ctx, []Op{{Op: "put", Key: "a", Value: json.RawMessage(`1`)}, {Op: "put", Key: "b", Value: json.RawMessage(`nope`)}}); apierr.CodeOf(err) != apierr.InvalidRequest {
		t.Fatalf("batch with a bad value: %v", err)
	}
	if _, err := tb.Get(ctx, "a"); apierr.CodeOf(err) != apierr.NotFound {
		t.Fatalf("a refused batch wrote: %v", err)
	}
	if err := tb.Batch(ctx, []Op{{Op: "frob", Key: "a"}}); apierr.CodeOf(err) != apierr.InvalidRequest {
		t.Fatalf("batch with an unknown op: %v", err)
	}
	if err := tb.Batch(ctx, []Op{
		{Op: "put", Key: "a", Value: json.RawMessage(`1`)},
		{Op: "put", Key: "b", Value: json.RawMessage(`"two"`)},
		{Op: "delete", Key: "u1"},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Get(ctx, "u1"); apierr.CodeOf(err) != apierr.NotFound {
		t.Fatalf("batch delete: %v", err)
	}
	if err := tb.Delete(ctx, "absent"); err != nil {
		t.Fatalf("delete absent: %v", err)
	}
	// Scan with prefix, after, limit, next.
	for i := 0; i < 25; i++ {
		if err := tb.Put(ctx, fmt.Sprintf("p%02d", i), json.RawMessage(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	after := ""
	pages := 0
	for {
		r, err := tb.Scan(ctx, "p", after, 10)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, it := range r.Items {
			got = append(got, it.Key)
		}
		if r.Next == "" {
			break
		}
		after = r.Next
	}
	if len(got) != 25 || got[0] != "p00" || got[24] != "p24" || pages != 3 {
		t.Fatalf("scan pages %d got %v", pages, got)
	}
	r, err := tb.Scan(ctx, "", "b", 2)
	if err != nil || len(r.Items) != 2 || r.Items[0].Key != "p00" || r.Next != "p01" {
		t.Fatalf("scan after b: %+v %v", r, err)
	}
	// Unavailable: every op answers table_unavailable, nothing is written.
	tb.SetUnavailable(ReasonRestoring)
	if ok, reason := tb.Available(); ok || reason != ReasonRestoring {
		t.Fatalf("available %v %q", ok, reason)
	}
	checks := map[string]error{}
	_, checks["get"] = tb.Get(ctx, "a")
	checks["put"] = tb.Put(ctx, "z", json.RawMessage(`1`))
	checks["delete"] = tb.Delete(ctx, "a")
	checks["batch"] = tb.Batch(ctx, []Op{{Op: "put", Key: "z", Value: json.RawMessage(`1`)}})
	_, checks["scan"] = tb.Scan(ctx, "", "", 10)
	for op, err := range checks {
		if apierr.CodeOf(err) != apierr.TableUnavailable {
			t.Errorf("%s while unavailable: %v", op, err)
		}
	}
	if err := tb.SetAvailable(); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Get(ctx, "z"); apierr.CodeOf(err) != apierr.NotFound {
		t.Fatalf("a write while unavailable landed: %v", err)
	}
	if v, err := tb.Get(ctx, "a"); err != nil || string(v) != "1" {
		t.Fatalf("a delete while unavailable landed: %s %v", v, err)
	}
}

func TestReopenAndDeadEstimate(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := openTestStore(t, root, nil)
	tb := mustOpen(t, s, "t1")
	fill(t, tb, "k", 0, 100)
	fill(t, tb, "k", 0, 30) // 30 overwrites
	for i := 30; i < 40; i++ {
		if err := tb.Delete(ctx, fmt.Sprintf("k%06d", i)); err != nil {
			t.Fatal(err)
		}
	}
	st, err := tb.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 90 || st.DeadRecords != 40 || st.DeadBytes <= 0 || st.Bytes <= 0 {
		t.Fatalf("stats %+v, want 90 records, 40 dead", st)
	}
	if want := 40.0 / 130.0; st.DeadRatio < want-1e-9 || st.DeadRatio > want+1e-9 {
		t.Fatalf("dead ratio %v want %v", st.DeadRatio, want)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Get(ctx, "k000001"); apierr.CodeOf(err) != apierr.TableUnavailable {
		t.Fatalf("get after close: %v", err)
	}
	s2 := openTestStore(t, root, nil)
	names, err := s2.Names()
	if err != nil || !reflect.DeepEqual(names, []string{"t1"}) {
		t.Fatalf("names %v %v", names, err)
	}
	for name, want := range map[string]bool{"t1": true, "other": false} {
		if got, err := s2.Exists(name); got != want || err != nil {
			t.Fatalf("exists %s: %v %v, want %v", name, got, err, want)
		}
	}
	if _, err := s2.Exists("../t1"); apierr.CodeOf(err) != apierr.InvalidTable {
		t.Fatalf("exists of an invalid name: %v", err)
	}
	if _, err := s2.Open(ctx, "other", false); apierr.CodeOf(err) != apierr.NotFound {
		t.Fatalf("open absent without create: %v", err)
	}
	tb2, err := s2.Open(ctx, "t1", false)
	if err != nil {
		t.Fatal(err)
	}
	st2, _ := tb2.Stats(ctx)
	if st2.Records != 90 || st2.DeadRecords != 40 {
		t.Fatalf("estimate not persisted: %+v", st2)
	}
	// A lost sidecar is rebuilt by counting.
	tb2.Close()
	if err := removeFile(filepath.Join(root, tablesDir, "t1", deadFile)); err != nil {
		t.Fatal(err)
	}
	s3 := openTestStore(t, root, nil)
	tb3, err := s3.Open(ctx, "t1", false)
	if err != nil {
		t.Fatal(err)
	}
	st3, _ := tb3.Stats(ctx)
	if st3.Records != 90 || st3.DeadRecords != 0 {
		t.Fatalf("rebuilt estimate %+v", st3)
	}
	vr, err := tb3.Verify(ctx, nil)
	if err != nil || vr.Records != 90 {
		t.Fatalf("verify %+v %v", vr, err)
	}
}

func TestIsCorruptionWrapped(t *testing.T) {
	base := corrupted("x")
	lbase := lerrors.NewErrCorrupted(storage.FileDesc{}, errors.New("y"))
	for _, err := range []error{
		base,
		fmt.Errorf("a: %w", base),
		fmt.Errorf("b: %w", fmt.Errorf("a: %w", base)),
		errors.Join(errors.New("other"), base),
		lbase,
		fmt.Errorf("table t: get: %w", lbase),
		fmt.Errorf("b: %w", fmt.Errorf("a: %w", lbase)),
	} {
		if !IsCorruption(err) {
			t.Errorf("IsCorruption(%v) = false", err)
		}
	}
	if IsCorruption(errors.New("plain")) || IsCorruption(nil) || IsCorruption(fmt.Errorf("%w", ErrBackupInvalid)) {
		t.Error("IsCorruption true for a non-corruption")
	}
}

func TestMissingDirWithHistoryIsNotRecreated(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := openTestStore(t, root, nil)
	tb := mustOpen(t, s, "t")
	fill(t, tb, "k", 0, 10)
	m, err := tb.Backup(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Quarantine(ctx); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// A crash here (quarantined, not yet restored): the next start must not
	// create an empty table in its place.
	det := &detections{}
	s2 := openTestStore(t, root, det)
	names, _ := s2.Names()
	if !reflect.DeepEqual(names, []string{"t"}) {
		t.Fatalf("names %v", names)
	}
	if ok, err := s2.Exists("t"); !ok || err != nil {
		t.Fatalf("a quarantined table does not exist: %v %v", ok, err)
	}
	tb2, err := s2.Open(ctx, "t", true)
	if !IsCorruption(err) || tb2 == nil {
		t.Fatalf("open of a quarantined table: %v %v", tb2, err)
	}
	if ok, _ := exists(filepath.Join(root, tablesDir, "t")); ok {
		t.Fatal("an empty table was created over a quarantined one")
	}
	if calls := det.list(); len(calls) != 1 || calls[0].op != "open" {
		t.Fatalf("detections %+v", calls)
	}
	if _, err := tb2.Quarantine(ctx); err != nil {
		t.Fatalf("quarantine with nothing to move: %v", err)
	}
	rr, err := tb2.RestoreFrom(ctx, m.ID, nil)
	if err != nil || rr.Records != 10 || rr.Quarantined != "" {
		t.Fatalf("restore %+v %v", rr, err)
	}
	if tb3, err := s2.Open(ctx, "t", false); err != nil || tb3 != tb2 {
		t.Fatalf("open again: %v %v (want the same *Table)", tb3, err)
	}
}
