/*
 * review.c - what the review commands (cmd_recs.c, cmd_registry.c) share:
 * the default database, times for people, JSON out. Declared in cli.h.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"
#include "util.h"
#include "banned.h"

const char *cli_default_db(void)
{
	const char *e = getenv("BOURSE_DB");

	return e && *e ? e : "./bourse.db";
}

void cli_fmt_age(char *buf, size_t size, int64_t ms)
{
	int64_t s = (util_wall_ms() - ms) / 1000;

	if (ms <= 0)
		snprintf(buf, size, "-");
	else if (s < 120)
		snprintf(buf, size, "%llds", (long long)(s < 0 ? 0 : s));
	else if (s < 2 * 3600)
		snprintf(buf, size, "%lldm", (long long)(s / 60));
	else if (s < 2 * 86400)
		snprintf(buf, size, "%lldh", (long long)(s / 3600));
	else
		snprintf(buf, size, "%lldd", (long long)(s / 86400));
}

void cli_fmt_time(char *buf, size_t size, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!gmtime_r(&t, &tm) ||
	    strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(buf, size, "%lld ms", (long long)ms);
}

void cli_actor_name(char *buf, size_t size)
{
	const char *u = getenv("USER");

	if (u && *u)
		snprintf(buf, size, "cli:%s", u);
	else
		snprintf(buf, size, "cli");
}

int cli_json_print(struct json_object *root)
{
	const char *s = json_object_to_json_string_ext(
		root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	int rc = printf("%s\n", s) < 0 ? CLI_FAIL : CLI_OK;

	json_object_put(root);
	return rc;
}
