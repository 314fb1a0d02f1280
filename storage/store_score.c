/*
 * store_score.c - shadow scoring: what the market predicted for each
 * recommendation against what the VM did next (store.h, "shadow scoring";
 * docs/storage.md). Scores are written inside the round's transaction.
 */
#include <string.h>

#include "store_internal.h"
#include "banned.h"

/* The window's rounds as a CTE; recs by their last round (indexed); each
 * sample by its primary key (round, vm_id). ?1 round, ?2 window. */
static const char score_sql[] =
	"WITH RECURSIVE w(r) AS (SELECT ?1 - ?2 + 1 UNION ALL"
	"  SELECT r + 1 FROM w WHERE r < ?1)"
	" INSERT OR IGNORE INTO rec_scores (rec_id, scored_round, samples,"
	"  peak_demand_mib, mean_demand_mib, predicted_pressure,"
	"  observed_pressure, carried_out, correct)"
	" SELECT rc.id, ?1, COUNT(*), MAX(s.demand_mib), AVG(s.demand_mib),"
	"  rc.pressure_after, 100.0 * MAX(s.demand_mib) / rc.to_mib,"
	"  rc.state = 7,"
	"  MAX(s.demand_mib) <= rc.to_mib AND (rc.kind != 1 OR"
	"   rc.to_mib <= rc.from_mib OR"
	"   MAX(s.demand_mib) * rc.want_mib > rc.from_mib * rc.demand_mib)"
	" FROM recs rc CROSS JOIN w"
	" JOIN samples s ON s.round = w.r AND s.vm_id = rc.vm_id"
	" WHERE rc.last_round = ?1 - ?2 AND rc.to_mib > 0"
	" GROUP BY rc.id";

int store__score_round(store *s, int64_t round, int64_t window, char *err,
		       size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (window <= 0 || round - window < 1)
		return 0;
	_Static_assert(STORE_REC_SUCCEEDED == 7, "the state in score_sql");
	if (sqlite3_prepare_v2(s->db, score_sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(st, 1, round);
	sqlite3_bind_int64(st, 2, window);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return 0;
	st = NULL;
fail:
	store__dberr(s, err, errlen, "round %lld: scoring recommendations",
		     (long long)round);
	sqlite3_finalize(st);
	return -1;
}

/* Kind 1 resize (up or down by the sizes), 2 migrate; as store_action. */
static const char stats_sql[] =
	"SELECT CASE WHEN r.kind = 2 THEN 2 WHEN r.to_mib > r.from_mib THEN 0"
	"  ELSE 1 END AS act, COUNT(*), SUM(sc.correct), SUM(sc.carried_out),"
	"  SUM(sc.carried_out AND sc.correct),"
	"  AVG(ABS(sc.observed_pressure - sc.predicted_pressure))"
	" FROM rec_scores sc JOIN recs r ON r.id = sc.rec_id GROUP BY act";

static void add_row(store_score_row *total, const store_score_row *r)
{
	double err = total->mean_abs_error * (double)total->scored +
		     r->mean_abs_error * (double)r->scored;

	total->scored += r->scored;
	total->correct += r->correct;
	total->carried_out += r->carried_out;
	total->carried_out_correct += r->carried_out_correct;
	total->mean_abs_error = total->scored ? err / (double)total->scored : 0;
}

static int score_row(sqlite3_stmt *st, void *p)
{
	store_score_row *out = p;
	store_score_row *r = &out[sqlite3_column_int(st, 0)];

	r->scored = sqlite3_column_int64(st, 1);
	r->correct = sqlite3_column_int64(st, 2);
	r->carried_out = sqlite3_column_int64(st, 3);
	r->carried_out_correct = sqlite3_column_int64(st, 4);
	r->mean_abs_error = sqlite3_column_double(st, 5);
	add_row(&out[STORE_N_ACTS], r);
	return 0;
}

int store_score_stats(store *s, store_score_row out[STORE_N_ACTS + 1],
		      char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;

	memset(out, 0, (STORE_N_ACTS + 1) * sizeof(*out));
	_Static_assert(STORE_ACT_RESIZE_UP == 0 && STORE_ACT_RESIZE_DOWN == 1 &&
		       STORE_ACT_MIGRATE == 2, "the kinds in stats_sql");
	sqlite3_prepare_v2(s->db, stats_sql, -1, &st, NULL);
	return store__each(s, st, score_row, out, "reading the scores", err,
			   errlen);
}
