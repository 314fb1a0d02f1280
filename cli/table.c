/*
 * table.c - the one table printer of the operator's views (declared in
 * cli.h), over util-linux's libsmartcols; the output conventions every
 * listing command shares: `-o table|wide|json`, `--no-headers`; and JSON
 * numbers rounded for people.
 */
#include <json-c/json.h>
#include <libsmartcols/libsmartcols.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "banned.h"

#define TABLE_MAX_COLS 32
#define TABLE_CELL_MAX 1024

struct cli_table {
	struct libscols_table *tb;
	struct libscols_column *col[TABLE_MAX_COLS]; /* NULL: not shown */
	size_t seq[TABLE_MAX_COLS]; /* its place among those shown */
	size_t ncol;
	struct libscols_line *line; /* the row being filled */
	size_t nrow;
	int oom;
};

int cli_output_parse(const char *s, enum cli_output *out)
{
	if (strcmp(s, "table") == 0)
		*out = CLI_OUT_TABLE;
	else if (strcmp(s, "wide") == 0)
		*out = CLI_OUT_WIDE;
	else if (strcmp(s, "json") == 0)
		*out = CLI_OUT_JSON;
	else
		return -1;
	return 0;
}

int cli_output_opt(const char *cmd, const char *arg, enum cli_output *out)
{
	if (cli_output_parse(arg, out) == 0)
		return CLI_OK;
	fprintf(stderr, "bourse %s: -o: '%s' is not an output format (table, "
		"wide, json)\n", cmd, arg);
	return CLI_USAGE;
}

/* Colours only on a terminal, and never when NO_COLOR is set and not
 * empty (https://no-color.org). */
static int colours_wanted(void)
{
	const char *nc = getenv("NO_COLOR");

	return isatty(STDOUT_FILENO) && !(nc && *nc);
}

cli_table *cli_table_new(const struct cli_col *cols, size_t ncol,
			 enum cli_output mode, int no_headers)
{
	cli_table *t = calloc(1, sizeof(*t));

	if (!t || ncol > TABLE_MAX_COLS || !(t->tb = scols_new_table())) {
		free(t);
		return NULL;
	}
	t->ncol = ncol;
	scols_table_set_column_separator(t->tb, "  ");
	scols_table_enable_noheadings(t->tb, no_headers);
	scols_table_enable_colors(t->tb, colours_wanted());
	if (mode == CLI_OUT_WIDE) /* every column whole, however wide */
		scols_table_set_termforce(t->tb, SCOLS_TERMFORCE_NEVER);
	for (size_t i = 0, shown = 0; i < ncol; i++) {
		int fl = 0;

		if (cols[i].flags & CLI_COL_WIDE && mode != CLI_OUT_WIDE)
			continue;
		if (cols[i].flags & CLI_COL_RIGHT)
			fl |= SCOLS_FL_RIGHT;
		if (cols[i].flags & CLI_COL_TRUNC)
			fl |= SCOLS_FL_TRUNC;
		t->seq[i] = shown++;
		t->col[i] = scols_table_new_column(t->tb, cols[i].name, 0, fl);
		if (!t->col[i]) {
			cli_table_free(t);
			return NULL;
		}
		if (colours_wanted())
			scols_cell_set_color(scols_column_get_header(t->col[i]),
					     "bold");
	}
	return t;
}

int cli_table_row(cli_table *t)
{
	t->line = scols_table_new_line(t->tb, NULL);
	if (!t->line) {
		t->oom = 1;
		return -1;
	}
	t->nrow++;
	return 0;
}

/* Cells hold stored strings a peer wrote (a host's URI, an agent's detail):
 * libsmartcols prints every byte that is not printable in the locale as
 * \xHH (its safe encoding of cell data), so a newline cannot forge a row
 * nor an ESC drive the terminal; no escaping is added here
 * (tests/test_text.c, test_hosts_table_escapes_stored_text). */
void cli_table_set(cli_table *t, size_t col, const char *fmt, ...)
{
	char cell[TABLE_CELL_MAX];
	va_list ap;

	if (col >= t->ncol || !t->col[col] || !t->line)
		return; /* a wide column in a table: not shown */
	va_start(ap, fmt);
	vsnprintf(cell, sizeof(cell), fmt, ap);
	va_end(ap);
	if (scols_line_set_data(t->line, t->seq[col],
				cell[0] ? cell : "-") != 0)
		t->oom = 1;
}

size_t cli_table_rows(const cli_table *t)
{
	return t->nrow;
}

int cli_table_print(cli_table *t, FILE *out)
{
	if (t->oom)
		return -1;
	scols_table_set_stream(t->tb, out);
	if (scols_print_table(t->tb) != 0)
		return -1;
	return ferror(out) ? -1 : 0;
}

void cli_table_free(cli_table *t)
{
	if (!t)
		return;
	scols_unref_table(t->tb);
	free(t);
}

/* ---- JSON numbers ------------------------------------------------------- */

json_object *cli_json_num(double v)
{
	char s[64];

	if (!isfinite(v))
		return NULL; /* JSON has no NaN nor infinity: null */
	if (fabs(v) >= 1e6)
		snprintf(s, sizeof(s), "%.0f", v);
	else
		snprintf(s, sizeof(s), "%.*g", CLI_JSON_DIGITS, v);
	if (strcmp(s, "-0") == 0)
		snprintf(s, sizeof(s), "0");
	return json_object_new_double_s(v, s);
}
