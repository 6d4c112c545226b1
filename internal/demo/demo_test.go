package demo

import (
	"context"
	"testing"
	"time"

	"github.com/custodian-dev/custodian/internal/tables"
)

func openTable(t *testing.T) *tables.Table {
	t.Helper()
	store, err := tables.OpenStore(t.TempDir(), tables.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	tbl, err := store.Open(context.Background(), "demo", true)
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func TestRunWritesOverwritesAndDeletes(t *testing.T) {
	tbl := openTable(t)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	c, err := Run(ctx, tbl, Options{Rate: 500, Keys: 50, Padding: 16, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if c.Puts == 0 || c.Deletes == 0 {
		t.Fatalf("want puts and deletes, got %+v", c)
	}
	st, err := tbl.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// With 50 keys and hundreds of writes most writes are overwrites or
	// deletes: the dead estimate must show it.
	if st.DeadRecords == 0 || st.Records == 0 || st.Records > 50 {
		t.Fatalf("stats after demo load: %+v (counts %+v)", st, c)
	}
	res, err := tbl.Scan(context.Background(), "user-", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(res.Items)) != st.Records {
		t.Fatalf("scan found %d keys, stats say %d", len(res.Items), st.Records)
	}
}

func TestRunWaitsWhileTableUnavailable(t *testing.T) {
	tbl := openTable(t)
	tbl.SetUnavailable("restoring")
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	c, err := Run(ctx, tbl, Options{Rate: 200})
	if err != nil {
		t.Fatalf("an unavailable table must not end the demo: %v", err)
	}
	if c.Unavailable == 0 || c.Puts+c.Deletes != 0 {
		t.Fatalf("want only unavailable answers, got %+v", c)
	}
}
