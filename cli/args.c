/*
 * args.c - strict parsing of flag values (numbers, sizes) and of market
 * parameters.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "banned.h"

int cli_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out,
		  char *err, size_t errlen)
{
	char *end = NULL;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (*s == '\0' || isspace((unsigned char)*s) || *end != '\0' ||
	    errno == ERANGE) {
		snprintf(err, errlen, "'%s' is not a whole number", s);
		return -1;
	}
	if (v < min || v > max) {
		snprintf(err, errlen, "'%s' is out of range [%lld, %lld]", s,
			 (long long)min, (long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

int cli_parse_double(const char *s, double min, double max, double *out,
		     char *err, size_t errlen)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (*s == '\0' || isspace((unsigned char)*s) || *end != '\0' ||
	    errno == ERANGE || !isfinite(v)) {
		snprintf(err, errlen, "'%s' is not a finite number", s);
		return -1;
	}
	if (v < min || v > max) {
		snprintf(err, errlen, "'%s' is out of range [%g, %g]", s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int cli_parse_mib(const char *s, int64_t min, int64_t max, int64_t *out,
		  char *err, size_t errlen)
{
	static const struct { const char *unit; int64_t mib; } units[] = {
		{ "", 1 }, { "M", 1 }, { "MiB", 1 }, { "G", 1024 },
		{ "GiB", 1024 }, { "T", 1024 * 1024 }, { "TiB", 1024 * 1024 },
	};
	char *end = NULL;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s == '\0' || !isdigit((unsigned char)*s) || errno == ERANGE) {
		snprintf(err, errlen, "'%s' is not a size (MiB, or with M, "
			 "MiB, G, GiB, T or TiB)", s);
		return -1;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit))
			continue;
		if (v > INT64_MAX / units[i].mib ||
		    v * units[i].mib < min || v * units[i].mib > max) {
			snprintf(err, errlen, "'%s' is out of range [%lld, "
				 "%lld] MiB", s, (long long)min,
				 (long long)max);
			return -1;
		}
		*out = v * units[i].mib;
		return 0;
	}
	snprintf(err, errlen, "'%s' is not a size (MiB, or with M, MiB, G, "
		 "GiB, T or TiB)", s);
	return -1;
}

enum param_type { P_DOUBLE, P_I64, P_U32 };

struct param_desc {
	const char *name;
	enum param_type type;
	size_t offset;
};

#define PD(n, t) { #n, t, offsetof(market_params, n) }

static const struct param_desc params[] = {
	PD(price_base, P_DOUBLE),
	PD(price_exponent, P_DOUBLE),
	PD(util_cap, P_DOUBLE),
	PD(balloon_weight, P_DOUBLE),
	PD(swap_weight, P_DOUBLE),
	PD(swap_norm_mibps, P_DOUBLE),
	PD(idle_tax, P_DOUBLE),
	PD(budget_pressure_gain, P_DOUBLE),
	PD(budget_swap_gain, P_DOUBLE),
	PD(risk_headroom, P_DOUBLE),
	PD(risk_rounds, P_DOUBLE),
	PD(resize_min_mib, P_I64),
	PD(resize_min_frac, P_DOUBLE),
	PD(migrate_util, P_DOUBLE),
	PD(migrate_gain, P_DOUBLE),
	PD(migrate_cost_mib, P_DOUBLE),
	PD(migrate_cooldown, P_I64),
	PD(migrate_return_rounds, P_I64),
	PD(migrate_persist, P_U32),
	PD(migrate_max_per_round, P_U32),
	PD(migrate_host_share, P_DOUBLE),
	PD(migrate_targets, P_U32),
	PD(provision_util, P_DOUBLE),
	PD(suspend_util, P_DOUBLE),
	PD(peak_rounds, P_DOUBLE),
	PD(provision_band, P_DOUBLE),
	PD(migrate_squeeze, P_DOUBLE),
};

#define N_PARAMS (sizeof(params) / sizeof(params[0]))

int cli_market_param_set(market_params *p, const char *assignment, char *err,
			 size_t errlen)
{
	const char *eq = strchr(assignment, '=');
	if (!eq || eq == assignment) {
		snprintf(err, errlen, "'%s' is not NAME=VALUE", assignment);
		return -1;
	}
	size_t len = (size_t)(eq - assignment);
	for (size_t i = 0; i < N_PARAMS; i++) {
		if (strlen(params[i].name) != len ||
		    strncmp(params[i].name, assignment, len) != 0)
			continue;
		char *field = (char *)p + params[i].offset;
		double d;
		int64_t v;
		switch (params[i].type) {
		case P_DOUBLE:
			if (cli_parse_double(eq + 1, -1e300, 1e300, &d, err,
					     errlen) != 0)
				return -1;
			memcpy(field, &d, sizeof(d));
			return 0;
		case P_I64:
			if (cli_parse_i64(eq + 1, INT64_MIN + 1, INT64_MAX, &v,
					  err, errlen) != 0)
				return -1;
			memcpy(field, &v, sizeof(v));
			return 0;
		case P_U32:
			if (cli_parse_i64(eq + 1, 0, UINT32_MAX, &v, err,
					  errlen) != 0)
				return -1;
			uint32_t u = (uint32_t)v;
			memcpy(field, &u, sizeof(u));
			return 0;
		}
	}
	snprintf(err, errlen, "'%.*s' is not a market parameter (see "
		 "'bourse sim --params')", (int)len, assignment);
	return -1;
}

void cli_market_params_print(const market_params *p)
{
	for (size_t i = 0; i < N_PARAMS; i++) {
		const char *field = (const char *)p + params[i].offset;
		double d;
		int64_t v;
		uint32_t u;
		switch (params[i].type) {
		case P_DOUBLE:
			memcpy(&d, field, sizeof(d));
			printf("%-22s %g\n", params[i].name, d);
			break;
		case P_I64:
			memcpy(&v, field, sizeof(v));
			printf("%-22s %lld\n", params[i].name, (long long)v);
			break;
		case P_U32:
			memcpy(&u, field, sizeof(u));
			printf("%-22s %u\n", params[i].name, u);
			break;
		}
	}
}
