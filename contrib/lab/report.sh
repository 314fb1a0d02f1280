#!/bin/sh
# The lab's figures for one run (docs/lab.md, "What the report says"):
#   sh contrib/lab/report.sh DIR ROUND_S
# DIR holds poll.tsv (contrib/lab/poll.sh), bourse.db and the guests'
# consoles (console/NAME.log). Prints a table per
# guest, then one line of key=value pairs (prefixed "figures:") that run.sh
# turns into the report's JSON.
set -eu
dir=$1 round_s=$2
db="$dir/bourse.db"
poll="$dir/poll.tsv"
[ -s "$poll" ] || { echo "report: no samples in $poll" >&2; exit 1; }

# actions that succeeded: kind name from to to_mib updated_s
sqlite3 -separator ' ' "$db" "
	SELECT CASE r.kind WHEN 1 THEN 'resize' ELSE 'migrate' END, v.name,
	       hf.name, COALESCE(ht.name, '-'), r.to_mib, r.updated_ms / 1000
	FROM recs r JOIN vms v ON v.id = r.vm_id JOIN hosts hf ON hf.id = r.from_host_id
	LEFT JOIN hosts ht ON ht.id = r.to_host_id
	WHERE r.state = 7 ORDER BY r.updated_ms" >"$dir/actions.txt" 2>/dev/null || : >"$dir/actions.txt"
# pressure as the broker recorded it: name mean max
sqlite3 -separator ' ' "$db" "
	SELECT v.name, ROUND(AVG(s.reported_pressure), 1), ROUND(MAX(s.reported_pressure), 1)
	FROM samples s JOIN vms v ON v.id = s.vm_id GROUP BY v.name" >"$dir/pressure.txt" 2>/dev/null || : >"$dir/pressure.txt"

# the workload killed and restarted in the guest (the OOM killer): name count
for f in "$dir"/console/*.log; do
	[ -e "$f" ] || continue
	# and the working-set passes it completed (summed over restarts): the
	# work done, which swapping slows down
	passes=$(awk -F'pass=' '/^bgl: t=/ { p = $2 + 0; if (p < last) sum += last; last = p }
		END { print sum + last }' "$f")
	echo "$(basename "$f" .log) $(grep -c '^bgl-init: the workload died' "$f") $passes"
done >"$dir/kills.txt"

awk -v round_s="$round_s" -v actions="$dir/actions.txt" -v pressure="$dir/pressure.txt" -v kills="$dir/kills.txt" '
function ceil(x) { return x == int(x) ? x : int(x) + 1 }
BEGIN {
	while ((getline l < pressure) > 0) { split(l, a, " "); pmean[a[1]] = a[2]; pmax[a[1]] = a[3] }
	while ((getline l < kills) > 0) { split(l, a, " "); kill[a[1]] = a[2]; passes[a[1]] = a[3] }
	na = 0
	while ((getline l < actions) > 0) { na++; split(l, a, " "); akind[na] = a[1]; avm[na] = a[2]; afrom[na] = a[3]; ato[na] = a[4]; amib[na] = a[5]; at[na] = a[6] }
}
# epoch guest host balloon_kib swap_in swap_out guest_t want held
{
	e = $1; g = $2; h = "lab-" $3
	if (!(g in seen)) { seen[g] = 1; order[++ng] = g }
	n[g]++; k = n[g]
	if (e > last) last = e
	E[g, k] = e; H[g, k] = h; B[g, k] = $4; T[g, k] = $7; W[g, k] = $8; HD[g, k] = $9
	if (first == 0 || e < first) first = e
	if ($5 != "-") { si[g] = $5; so[g] = $6 }
	hosts_at[e, g] = hosts_at[e, g] " " h
}
END {
	# spikes: the workload wanting 32 MiB more or more, to more than the
	# balloon holds (less 64 MiB for the guest kernel). The balloon has
	# grown at the first later sample where virsh shows it above what it
	# was at the spike. Rounds (rounded up) are counted from the moment
	# the guest was really short, the first sample where what its
	# workload holds plus 64 MiB exceeded the balloon (a TCG guest takes
	# 10-20 s to touch 200 MiB more: from the step itself the rounds
	# measure its allocation, not bourse; 0 when the balloon grew first),
	# and also from the step itself (worst_step). A spike the balloon has
	# not answered by the end of the run is left out when the guest was
	# never short after it, or short for less than 3 rounds.
	spikes = 0; grown = 0; worst = -1; worst_step = -1
	for (gi = 1; gi <= ng; gi++) {
		g = order[gi]; prevw = -1
		for (k = 1; k <= n[g]; k++) {
			w = W[g, k]
			if (w == "-" || B[g, k] == "-") continue
			if (prevw >= 0 && w >= prevw + 32 && w + 64 > B[g, k] / 1024) {
				spikes++; b0 = B[g, k]; sj = 0
				for (j = k; j <= n[g]; j++) {
					if (B[g, j] == "-") continue
					if (j > k && B[g, j] > b0) break
					if (!sj && HD[g, j] != "-" && HD[g, j] + 64 > B[g, j] / 1024) sj = j
				}
				if (j <= n[g]) {
					r = sj ? ceil((E[g, j] - E[g, sj]) / round_s) : 0
					rs = ceil((E[g, j] - E[g, k]) / round_s)
					grown++; if (r > worst) worst = r
					if (rs > worst_step) worst_step = rs
					printf "  spike %s at +%ds: wants %d MiB, balloon %d MiB; short from %s; balloon grew at +%ds: %d rounds from short, %d from the step\n", g, E[g, k] - first, w, b0 / 1024, sj ? "+" (E[g, sj] - first) "s" : "never", E[g, j] - first, r, rs
				} else if (!sj || E[g, n[g]] - E[g, sj] < 3 * round_s) {
					# never short, or short for less than 3 rounds when
					# the run ended: nothing bourse failed to answer yet
					spikes--
					printf "  spike %s at +%ds: wants %d MiB, balloon %d MiB; %s when the run ended: not counted\n", g, E[g, k] - first, w, b0 / 1024, sj ? "short for less than 3 rounds" : "never short"
				} else
					printf "  spike %s at +%ds: wants %d MiB, balloon %d MiB; the balloon never grew\n", g, E[g, k] - first, w, b0 / 1024
			}
			prevw = w
		}
	}
	# resizes verified: virsh showed the balloon at the target after the
	# action succeeded; migrations verified: virsh showed the guest on the
	# target host only, after it succeeded, and its console advancing
	rv = 0; mv = 0; mt = 0; msup = 0; res = 0; mig = 0; alive_all = 1
	for (i = 1; i <= na; i++) {
		g = avm[i]; ok = 0
		if (akind[i] == "resize") {
			res++
			for (k = 1; k <= n[g]; k++)
				if (E[g, k] >= at[i] - 1 && B[g, k] != "-" && (B[g, k] - amib[i] * 1024) ^ 2 <= 1024 ^ 2) { ok = 1; break }
			rv += ok
			if (!ok) printf "  resize %s to %d MiB: succeeded in bourse, balloon never seen at it by virsh\n", g, amib[i]
		} else {
			mig++
			for (k = 1; k <= n[g]; k++)
				if (E[g, k] >= at[i] - 1 && hosts_at[E[g, k], g] == " " ato[i]) { ok = 1; break }
			# bug 8: the balloon at the migration target on the
			# destination, within 10 s of arriving there
			there = 0
			if (ok)
				for (j = k; j <= n[g] && E[g, j] <= E[g, k] + 10; j++)
					if (H[g, j] == ato[i] && B[g, j] != "-" && (B[g, j] - amib[i] * 1024) ^ 2 <= 1024 ^ 2) { there = 1; break }
			mt += there
			# not seen because bourse resized it again first (the
			# poll is once a second): said, not counted as seen
			sup = 0
			if (ok && !there)
				for (q = i + 1; q <= na; q++)
					if (avm[q] == g && akind[q] == "resize" && at[q] <= at[i] + 10) { sup = 1; break }
			msup += sup
			alive = 0
			if (ok && T[g, k] != "-")
				for (j = k + 1; j <= n[g]; j++)
					if (T[g, j] != "-" && T[g, j] >= T[g, k] + 5) { alive = 1; break }
			if (!alive) alive_all = 0
			printf "  migration %s %s -> %s at %d MiB: %s, %s, %s\n", g, afrom[i], ato[i], amib[i], ok ? "verified (virsh list on both hosts)" : "NOT seen on the target alone", there ? "balloon there at it" : sup ? "balloon there resized again by bourse before virsh looked" : "balloon there NOT seen at it", alive ? "console advancing after" : "console NOT advancing after"
			mv += ok
		}
	}
	printf "  %-8s %-6s %9s %9s %9s %9s %9s %7s %7s\n", "guest", "host", "balloon", "swap-in", "swap-out", "pressure", "max", "killed", "passes"
	swap = 0; kills = 0; work = 0
	for (gi = 1; gi <= ng; gi++) {
		g = order[gi]; k = n[g]
		# alive at the end: still running (seen in the last 5 s) and its
		# console advanced over the last 20 s
		for (j = k; j > 1 && E[g, j] > E[g, k] - 20; j--) ;
		gone = E[g, k] < last - 5
		if (gone || !(T[g, k] != "-" && T[g, j] != "-" && T[g, k] > T[g, j])) alive_all = 0
		sw = (si[g] + so[g]) / 1024; swap += sw; kills += kill[g]; work += passes[g]
		printf "  %-8s %-6s %5d MiB %5d MiB %5d MiB %9s %9s %7d %7d%s\n", g, gone ? "GONE" : H[g, k], B[g, k] / 1024, si[g] / 1024, so[g] / 1024, (g in pmean) ? pmean[g] : "-", (g in pmax) ? pmax[g] : "-", kill[g], passes[g], gone ? " (the domain stopped: its console, libvirt\047s qemu log)" : ""
	}
	printf "  actions succeeded: %d resizes (%d verified with virsh), %d migrations (%d verified, %d with the balloon at their target there, %d resized again before virsh looked)\n", res, rv, mig, mv, mt, msup
	printf "  spikes: %d, balloon grew after %d of them, worst %s rounds from short (%s from the step)\n", spikes, grown, worst < 0 ? "-" : worst, worst_step < 0 ? "-" : worst_step
	printf "figures: resizes=%d resizes_verified=%d migrations=%d migrations_verified=%d migrations_at_target=%d guests_alive=%s spikes=%d spikes_grown=%d spike_rounds=%s spike_rounds_step=%s swap_mib=%d oom_kills=%d passes=%d\n", res, rv, mig, mv, mt, alive_all ? "true" : "false", spikes, grown, (spikes > 0 && grown == spikes) ? worst : "null", (spikes > 0 && grown == spikes) ? worst_step : "null", swap, kills, work
}' "$poll"
