package tables

import (
	"context"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/util"

	"github.com/custodian-dev/custodian/internal/apierr"
)

// How ModeAuto chooses. goleveldb's CompactRange never rewrites tables
// already at the deepest level, so it cannot reclaim dead records that sit
// there; only a rewrite (copy-and-swap) does, at the price of copying every
// live record. Auto picks rewrite when the dead estimate is high
// (AutoRewriteRatio), or when it is at least AutoMinRewriteRatio and the
// deepest non-empty level holds AutoDeepShare of the bytes (so native would
// reclaim little); native otherwise.
const (
	AutoRewriteRatio    = 0.30
	AutoMinRewriteRatio = 0.10
	AutoDeepShare       = 0.80
)

// Compact compacts the table in the given mode (ModeAuto chooses, see
// AutoRewriteRatio). Progress, when non-nil, is called with figures as the
// work goes on. Compact does not look at a threshold: the caller decides
// whether to compact. On error the table is as it was (a rewrite removes
// its copy; the live database keeps serving).
func (t *Table) Compact(ctx context.Context, mode Mode, progress Progress) (CompactResult, error) {
	switch mode {
	case ModeAuto, ModeNative, ModeRewrite, "":
	default:
		return CompactResult{}, apierr.New(apierr.InvalidRequest, "unknown compaction mode %q (want auto, native or rewrite)", mode)
	}
	t.opMu.Lock()
	defer t.opMu.Unlock()
	db, err := t.maintHandle(ctx)
	if err != nil {
		return CompactResult{}, err
	}
	d := t.deadSnapshot()
	before, err := dirSize(t.dir)
	if err != nil {
		return CompactResult{}, t.fail("compact", err)
	}
	res := CompactResult{BytesBefore: before, Records: d.Live, DeadRatio: d.ratio()}
	deep := deepShare(db)
	if mode == ModeAuto || mode == "" {
		mode = ChooseMode(d.ratio(), deep)
	}
	res.Mode = mode
	if mode == ModeNative {
		if err := db.CompactRange(util.Range{}); err != nil {
			return CompactResult{}, t.fail("compact", err)
		}
		t.deadMu.Lock()
		t.dead.Dead = int64(float64(t.dead.Dead) * deep)
		t.dead.DeadBytes = int64(float64(t.dead.DeadBytes) * deep)
		t.deadMu.Unlock()
	} else if err := t.rewrite(ctx, db, progress, &res); err != nil {
		return CompactResult{}, err
	}
	if res.BytesAfter, err = dirSize(t.dir); err != nil {
		return CompactResult{}, t.fail("compact", err)
	}
	res.Records = t.deadSnapshot().Live
	return res, nil
}

// ChooseMode is ModeAuto's choice for a dead ratio and the deepest level's
// share of the bytes.
func ChooseMode(deadRatio, deepShare float64) Mode {
	if deadRatio >= AutoRewriteRatio || (deadRatio >= AutoMinRewriteRatio && deepShare >= AutoDeepShare) {
		return ModeRewrite
	}
	return ModeNative
}

// deepShare is the share of the bytes in the deepest non-empty level (0 when
// the stats are not available).
func deepShare(db *leveldb.DB) float64 {
	var st leveldb.DBStats
	if err := db.Stats(&st); err != nil {
		return 0
	}
	var total, deepest int64
	for _, sz := range st.LevelSizes {
		total += sz
		if sz > 0 {
			deepest = sz
		}
	}
	if total == 0 {
		return 0
	}
	return float64(deepest) / float64(total)
}

func msSince(t0 time.Time) float64 { return float64(time.Since(t0).Microseconds()) / 1000 }
