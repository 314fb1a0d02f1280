/*
 * review.c - what the review commands (cmd_recs.c, cmd_registry.c) share:
 * which database, who acts, times for people, JSON out. Declared in cli.h.
 */
#include <getopt.h>
#include <json-c/json.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "util.h"
#include "banned.h"

const char *cli_default_db(void)
{
	const char *e = getenv("BOURSE_DB");

	return e && *e ? e : "./bourse.db";
}

/* [cli] takes db only (the review commands' shared option). */
static int cli_key(void *ctx, int opt, const char *arg, const char *where)
{
	const char **db = ctx;

	(void)opt;
	if (!*arg) {
		fprintf(stderr, "bourse: %s: is empty\n", where);
		return CLI_USAGE;
	}
	*db = arg;
	return CLI_OK;
}

static const struct option cli_keys[] = {
	{ "db", required_argument, NULL, 'd' },
	{ NULL, 0, NULL, 0 },
};

/* The configuration's database: [cli] db, else [broker] db (its last
 * line each); NULL if neither. Returns CLI_OK or CLI_USAGE (printed). */
static int conf_db(const cli_conf *c, const char **db)
{
	const char *broker_db = NULL;
	int rc = cli_conf_apply(c, "cli", cli_keys, cli_key, (void *)db);

	for (size_t i = 0; i < c->n; i++)
		if (!strcmp(c->e[i].section, "broker") &&
		    !strcmp(c->e[i].key, "db") && c->e[i].value[0])
			broker_db = c->e[i].value;
	if (!*db)
		*db = broker_db;
	return rc;
}

int cli_review_db(const char *cmd, const char **out)
{
	static cli_conf conf; /* read once, kept for the process */
	static int loaded;
	const char *e = getenv("BOURSE_DB");
	char err[768];

	*out = NULL;
	if (e && *e) {
		*out = e;
		return CLI_OK;
	}
	if (!loaded && cli_conf_read(&conf, NULL, err, sizeof(err)) != 0) {
		fprintf(stderr, "bourse: %s\n", err);
		return CLI_USAGE;
	}
	loaded = 1;
	if (!conf.path) {
		*out = "./bourse.db";
		return CLI_OK;
	}
	if (conf_db(&conf, out) != CLI_OK)
		return CLI_USAGE;
	if (*out)
		return CLI_OK;
	fprintf(stderr, "bourse %s: %s names no database ([cli] db or "
		"[broker] db); give --db or set BOURSE_DB\n", cmd, conf.path);
	return CLI_USAGE;
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

/* The name of uid, into buf; 0, or -1 if it has none. */
static int user_name(uid_t uid, char *buf, size_t size)
{
	struct passwd pw, *res = NULL;
	char tmp[4096];

	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) != 0 || !res ||
	    !res->pw_name[0])
		return -1;
	snprintf(buf, size, "%s", res->pw_name);
	return 0;
}

void cli_actor_name(char *buf, size_t size)
{
	const char *sudo = getenv("SUDO_USER");
	uid_t uid = getuid();
	char name[256];

	if (uid == 0 && sudo && *sudo && strlen(sudo) < sizeof(name) &&
	    !strpbrk(sudo, " \t\r\n"))
		snprintf(buf, size, "cli:%s", sudo);
	else if (user_name(uid, name, sizeof(name)) == 0)
		snprintf(buf, size, "cli:%s", name);
	else
		snprintf(buf, size, "cli:%lu", (unsigned long)uid);
}

int cli_json_print(struct json_object *root)
{
	const char *s = json_object_to_json_string_ext(
		root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	int rc = printf("%s\n", s) < 0 ? CLI_FAIL : CLI_OK;

	json_object_put(root);
	return rc;
}
