/*
 * alloc.c - the baselines' allocators (see policy.h and docs/simulator.md).
 *
 * Both solve the same shape of problem: give n VMs out[i] in [lo[i], hi[i]]
 * summing to supply, by bisection on a level, then hand out the MiB lost to
 * rounding one by one in a deterministic order. alloc_demand_first() is
 * two such fills in a row (demand, then buffers).
 */
#include <math.h>

#include "policy.h"
#include "banned.h"

#define BISECT_ROUNDS 100

static int64_t sum64(size_t n, const int64_t *a)
{
	int64_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += a[i];
	return s;
}

static int64_t clamp64(double x, int64_t lo, int64_t hi)
{
	if (!(x > (double)lo))
		return lo;
	if (x >= (double)hi)
		return hi;
	return (int64_t)floor(x);
}

/* The cases with nothing to share: everyone at hi when all fits, everyone
 * at lo when even the floors do not. Returns 1 if out[] is filled. */
static int settled(size_t n, const int64_t *lo, const int64_t *hi,
		   int64_t supply, int64_t *out)
{
	const int64_t *pick = sum64(n, hi) <= supply   ? hi
			      : sum64(n, lo) >= supply ? lo
						       : NULL;
	if (!pick)
		return 0;
	for (size_t i = 0; i < n; i++)
		out[i] = pick[i];
	return 1;
}

/* Fill out[] at level theta, return the sum. */
static int64_t weighted_at(size_t n, const int64_t *lo, const int64_t *hi,
			   const double *w, double theta, int64_t *out)
{
	int64_t s = 0;
	for (size_t i = 0; i < n; i++) {
		out[i] = clamp64((double)lo[i] + theta * w[i], lo[i], hi[i]);
		s += out[i];
	}
	return s;
}

/* Give `left` MiB, one at a time, to the entry with the largest key that
 * still has room; ties to the lower position. key() is recomputed after each
 * MiB, so a weight-proportional or value-ordered hand-out stays fair. */
typedef double (*alloc_key_fn)(size_t i, int64_t have, const double *a,
			       const double *b, double tax);

static void hand_out(size_t n, const int64_t *hi, int64_t *out, int64_t left,
		     alloc_key_fn key, const double *a, const double *b,
		     double tax)
{
	while (left > 0) {
		size_t best = n;
		double best_key = 0;
		for (size_t i = 0; i < n; i++) {
			if (out[i] >= hi[i])
				continue;
			double k = key(i, out[i], a, b, tax);
			if (best == n || k > best_key) {
				best = i;
				best_key = k;
			}
		}
		if (best == n)
			return;
		out[best]++;
		left--;
	}
}

static double weight_key(size_t i, int64_t have, const double *w,
			 const double *unused, double tax)
{
	(void)have;
	(void)unused;
	(void)tax;
	return w[i];
}

void alloc_weighted(size_t n, const int64_t *lo, const int64_t *hi,
		    const double *w, int64_t supply, int64_t *out)
{
	if (settled(n, lo, hi, supply, out))
		return;
	double t_ok = 0, t_over = 0;
	for (size_t i = 0; i < n; i++) {
		double t = (double)(hi[i] - lo[i]) / w[i];
		if (t > t_over)
			t_over = t;
	}
	for (int r = 0; r < BISECT_ROUNDS; r++) {
		double mid = (t_ok + t_over) / 2;
		if (weighted_at(n, lo, hi, w, mid, out) <= supply)
			t_ok = mid;
		else
			t_over = mid;
	}
	int64_t s = weighted_at(n, lo, hi, w, t_ok, out);
	hand_out(n, hi, out, supply - s, weight_key, w, NULL, 0);
}

/* Taxed cost of holding p MiB with `active` MiB in use: idle MiB cost k. */
static double taxed_cost(double p, double active, double tax)
{
	double k = 1.0 / (1.0 - tax);
	return p <= active ? p : active + k * (p - active);
}

static double taxed_inverse(double c, double active, double tax)
{
	double k = 1.0 / (1.0 - tax);
	return c <= active ? c : active + (c - active) / k;
}

static int64_t funding_at(size_t n, const int64_t *lo, const int64_t *hi,
			  const double *shares, const double *active,
			  double tax, double lambda, int64_t *out)
{
	int64_t s = 0;
	for (size_t i = 0; i < n; i++) {
		double p = taxed_inverse(shares[i] / lambda, active[i], tax);
		out[i] = clamp64(p, lo[i], hi[i]);
		s += out[i];
	}
	return s;
}

/* Shares per taxed MiB at the next MiB: the highest is reclaimed last. */
static double funding_key(size_t i, int64_t have, const double *shares,
			  const double *active, double tax)
{
	return shares[i] / taxed_cost((double)have + 1, active[i], tax);
}

void alloc_min_funding(size_t n, const int64_t *lo, const int64_t *hi,
		       const double *shares, const double *active, double tax,
		       int64_t supply, int64_t *out)
{
	if (settled(n, lo, hi, supply, out))
		return;
	/* sum(lambda) falls as lambda rises: keep the smallest lambda whose
	 * sum fits. Bisect on log(lambda). */
	double l_ok = 1e12, l_over = 1e-12;
	for (int r = 0; r < BISECT_ROUNDS; r++) {
		double mid = sqrt(l_ok * l_over);
		if (funding_at(n, lo, hi, shares, active, tax, mid, out) <= supply)
			l_ok = mid;
		else
			l_over = mid;
	}
	int64_t s = funding_at(n, lo, hi, shares, active, tax, l_ok, out);
	hand_out(n, hi, out, supply - s, funding_key, shares, active, tax);
}

void alloc_demand_first(size_t n, const int64_t *lo, const int64_t *need,
			const int64_t *hi, const double *w, int64_t supply,
			int64_t *out)
{
	if (sum64(n, need) >= supply)
		alloc_weighted(n, lo, need, w, supply, out);
	else
		alloc_weighted(n, need, hi, w, supply, out);
}
