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
				       json_object_new_double(r->mean_abs_error));
		json_object_object_add(root, labels[i], o);
	}
	return cli_json_print(root);
}

static void print_table(const store_score_row *rows)
{
	printf("%-12s %7s %6s %7s %12s %12s %7s\n", "KIND", "SCORED", "RIGHT",
	       "RIGHT%", "CARRIED OUT", "ITS RIGHT%", "ERROR");
	for (int i = 0; i <= STORE_N_ACTS; i++) {
		const store_score_row *r = &rows[i];

		printf("%-12s %7lld %6lld %6.0f%% %12lld %11.0f%% %7.1f\n",
		       labels[i], (long long)r->scored, (long long)r->correct,
		       pct(r->correct, r->scored), (long long)r->carried_out,
		       pct(r->carried_out_correct, r->carried_out),
		       r->mean_abs_error);
	}
	if (!rows[STORE_N_ACTS].scored)
		printf("\nnothing scored yet: a recommendation is scored a few "
		       "rounds after the last round that made it\n");
}

int cli_recs_stats(struct store *s, int json)
{
	store_score_row rows[STORE_N_ACTS + 1];
	char err[512];

	if (store_score_stats(s, rows, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse recs stats: %s\n", err);
		return CLI_FAIL;
	}
	if (json)
		return print_json(rows);
	print_table(rows);
	return CLI_OK;
}
