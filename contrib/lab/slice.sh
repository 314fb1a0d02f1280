#!/bin/sh
# A lab guest's demand series from a shipped trace (docs/lab.md):
#   sh contrib/lab/slice.sh TRACE_FILE STEPS FLOOR_MIB TOP_MIB
# TRACE_FILE is one Bitbrains VM (gzip CSV, "Memory usage [KB]" in column
# 7). Of its first 2,000 five-minute steps, the window of STEPS steps whose
# usage varies most (max - min) is taken, and scaled linearly so that the
# window's lowest usage is FLOOR_MIB and its highest TOP_MIB (a 512 MiB guest
# with its kernel cannot hold more than about 420 MiB of workload).
# Prints "OFFSET MiB,MiB,...": the window's first step, then the series.
set -eu
[ $# -eq 4 ] || { echo "usage: slice.sh TRACE_FILE STEPS FLOOR_MIB TOP_MIB" >&2; exit 2; }
zcat -f "$1" | awk -F';' -v steps="$2" -v lo="$3" -v hi="$4" '
NR > 1 && NR <= 2001 { u[n++] = $7 / 1024 }
END {
	if (n < steps) { print "slice: " n " steps, fewer than " steps > "/dev/stderr"; exit 1 }
	best = -1; off = 0
	for (s = 0; s + steps <= n; s += 5) {
		mn = u[s]; mx = u[s]
		for (i = s; i < s + steps; i++) { if (u[i] < mn) mn = u[i]; if (u[i] > mx) mx = u[i] }
		if (mx - mn > best) { best = mx - mn; off = s; wmin = mn; wmax = mx }
	}
	out = off " "
	for (i = off; i < off + steps; i++) {
		v = (wmax > wmin) ? lo + (u[i] - wmin) / (wmax - wmin) * (hi - lo) : lo
		out = out sprintf("%s%d", i > off ? "," : "", v + 0.5)
	}
	print out
}'
