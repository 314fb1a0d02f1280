/*
 * cmd_recs_stats.c - `bourse recs stats`: the shadow scores
 * (store_score_stats()) per kind of action, as a table or JSON.
 */
#include <json-c/json.h>
#include <stdio.h>

#include "cli.h"
#include "store.h"
#include "banned.h"

static const char *const labels[STORE_N_ACTS + 1] = {
	"resize-up", "resize-down", "migrate", "all",
};

static double pct(int64_t part, int64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static int print_json(const store_score_row *rows)
{
	json_object *root = json_object_new_object();

	for (int i = 0; i <= STORE_N_ACTS; i++) {
		const store_score_row *r = &rows[i];
		json_object *o = json_object_new_object();

		json_object_object_add(o, "scored", json_object_new_int64(r->scored));
		json_object_object_add(o, "right", json_object_new_int64(r->correct));
		json_object_object_add(o, "carried_out",
				       json_object_new_int64(r->carried_out));
		json_object_object_add(o, "carried_out_right",
				       json_object_new_int64(r->carried_out_correct));
		json_object_object_add(o, "mean_abs_pressure_error",
				       cli_json_num(r->mean_abs_error));
		json_object_object_add(root, labels[i], o);
	}
	return cli_json_print(root);
}

enum { S_KIND, S_SCORED, S_RIGHT, S_RIGHT_PCT, S_CARRIED, S_ITS_RIGHT,
       S_ITS_RIGHT_PCT, S_ERROR, N_S_COLS };

static const struct cli_col cols[N_S_COLS] = {
	[S_KIND] = { "KIND", 0 },
	[S_SCORED] = { "SCORED", CLI_COL_RIGHT },
	[S_RIGHT] = { "RIGHT", CLI_COL_RIGHT },
	[S_RIGHT_PCT] = { "RIGHT%", CLI_COL_RIGHT },
	[S_CARRIED] = { "CARRIED OUT", CLI_COL_RIGHT },
	[S_ITS_RIGHT] = { "ITS RIGHT", CLI_COL_RIGHT | CLI_COL_WIDE },
	[S_ITS_RIGHT_PCT] = { "ITS RIGHT%", CLI_COL_RIGHT },
	[S_ERROR] = { "ERROR", CLI_COL_RIGHT },
};

static int print_table(const store_score_row *rows, enum cli_output mode,
		       int no_headers)
{
	cli_table *t = cli_table_new(cols, N_S_COLS, mode, no_headers);
	int rc = t ? 0 : -1;

	for (int i = 0; i <= STORE_N_ACTS && rc == 0; i++) {
		const store_score_row *r = &rows[i];

		rc = cli_table_row(t);
		cli_table_set(t, S_KIND, "%s", labels[i]);
		cli_table_set(t, S_SCORED, "%lld", (long long)r->scored);
		cli_table_set(t, S_RIGHT, "%lld", (long long)r->correct);
		cli_table_set(t, S_RIGHT_PCT, "%.0f%%",
			      pct(r->correct, r->scored));
		cli_table_set(t, S_CARRIED, "%lld", (long long)r->carried_out);
		cli_table_set(t, S_ITS_RIGHT, "%lld",
			      (long long)r->carried_out_correct);
		cli_table_set(t, S_ITS_RIGHT_PCT, "%.0f%%",
			      pct(r->carried_out_correct, r->carried_out));
		cli_table_set(t, S_ERROR, "%.1f", r->mean_abs_error);
	}
	if (rc == 0)
		rc = cli_table_print(t, stdout);
	cli_table_free(t);
	if (rc != 0) {
		fprintf(stderr, "bourse recs stats: cannot print the table "
			"(out of memory?)\n");
		return CLI_FAIL;
	}
	if (!rows[STORE_N_ACTS].scored)
		printf("\nnothing scored yet: a recommendation is scored a few "
		       "rounds after the last round that made it\n");
	return CLI_OK;
}

int cli_recs_stats(struct store *s, enum cli_output mode, int no_headers)
{
	store_score_row rows[STORE_N_ACTS + 1];
	char err[512];

	if (store_score_stats(s, rows, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse recs stats: %s\n", err);
		return CLI_FAIL;
	}
	if (mode == CLI_OUT_JSON)
		return print_json(rows);
	return print_table(rows, mode, no_headers);
}
